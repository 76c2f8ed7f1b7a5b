// What an HttpServer is configured with: codec limits, timeouts, watermarks,
// TLS files and the HTTP/2 limits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/http/http1_codec.h"

namespace mag::http {

// Limits specific to HTTP/2 (docs/transport.md "HTTP/2 limits and attack
// mitigations"; cases H2-* in docs/security.md).
struct Http2Limits {
  uint32_t max_concurrent_streams = 100;
  uint32_t initial_window_size = 256 * 1024;  // per stream, request bodies
  // Total of name + value + 32 per field, as RFC 9113 counts it; nghttp2
  // only advertises SETTINGS_MAX_HEADER_LIST_SIZE, so it is enforced here.
  uint32_t max_header_list_bytes = 64 * 1024;
  // Frames that make no progress (empty DATA, PRIORITY, WINDOW_UPDATE) a
  // connection may send beyond what its useful traffic justifies.
  uint32_t max_frames_without_progress = 1000;
  // nghttp2 outbound queue (frames not yet serialised) above which the
  // peer is not reading: the connection is closed.
  size_t max_outbound_queue = 10000;
  // Bytes handed to the socket buffer before waiting for it to drain.
  size_t socket_write_cap = 64 * 1024;
};

struct ServerOptions {
  CodecLimits limits;
  // From accept (or the end of the previous response) to a complete request head: 408/close.
  std::chrono::milliseconds header_timeout{10000};
  // No bytes either way on an open exchange (stream default; SSE may change it).
  std::chrono::milliseconds stream_idle_timeout{300000};
  // From the end of a request head to the end of its body (HTTP/1.1 and
  // HTTP/2): a body trickled more slowly is cut (408 if no response has
  // started, else an abort). The clock stops while the server itself holds
  // the body back (pause_request_body). Zero disables.
  std::chrono::milliseconds request_body_timeout{60000};
  // Keep-alive connection with no request in progress.
  std::chrono::milliseconds keepalive_timeout{60000};
  size_t max_connections = 10000;
  size_t write_high_watermark = 1 << 20;
  size_t write_low_watermark = 256 << 10;
  // SO_REUSEPORT: several workers, each with its own listener on one port.
  bool reuse_port = false;
  // TLS termination (both or neither): PEM files. ALPN offers h2 and http/1.1.
  std::string tls_certificate;
  std::string tls_private_key;
  // HTTP/2: h2 via ALPN on TLS listeners, h2c with prior knowledge (the
  // connection preface) on cleartext ones.
  bool enable_http2 = true;
  Http2Limits http2;
};

}  // namespace mag::http
