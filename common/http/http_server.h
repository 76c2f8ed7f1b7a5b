// HTTP/1.1 server on libevent bufferevents: accepts connections, runs the
// Http1Parser and hands each request to a ServerStreamHandler made by the
// application's factory. Responses stream: head, then body pieces as they
// come, chunked when their length is unknown. One request at a time per
// connection; pipelined requests wait in the input buffer.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/http1_codec.h"
#include "common/http/http_message.h"

struct evbuffer;

namespace mag::http {

struct ConnectionInfo {
  std::string peer_address;  // "127.0.0.1"
  uint16_t peer_port = 0;
  bool tls = false;
  bool http2 = false;  // the exchange runs on an HTTP/2 stream
};

// The server side of one request/response exchange. Owned by the
// connection; valid until the handler's on_reset() or until the response is
// complete and the handler has been destroyed.
class ServerStream {
 public:
  virtual ~ServerStream() = default;
  // Without Content-Length in `head` and with !end_stream, the body is sent
  // chunked (HTTP/1.1) or delimited by close (HTTP/1.0). Connection-level
  // headers are managed by the server (Connection, Keep-Alive, Transfer-Encoding).
  virtual void send_head(ResponseHead head, bool end_stream) = 0;
  virtual void send_body(std::string_view data, bool end_stream) = 0;
  // Moves all bytes out of `data` (no copy).
  virtual void send_body(evbuffer* data, bool end_stream) = 0;
  // Writes what is queued to the socket now rather than at the end of the
  // loop turn (HTTP/1.1 cleartext; elsewhere a no-op). What the socket does
  // not take stays queued and counts in pending_bytes(); on_drained() may be
  // called from inside when a producer was waiting for the queue to drain.
  virtual void flush() {}
  // Aborts the response: the client sees an incomplete message, the
  // connection is closed. The handler gets no on_reset() for its own reset.
  virtual void reset() = 0;
  // Bytes queued towards the client and not yet written to the socket.
  // Producers stop above the high watermark and wait for on_drained().
  virtual size_t pending_bytes() const = 0;
  virtual bool above_high_watermark() const = 0;
  // Stops / resumes delivery of request body (flow control towards the client).
  virtual void pause_request_body(bool paused) = 0;
  // Disables the per-stream idle timeout while a long-lived response (SSE) is open,
  // or sets a different one. Zero disables.
  virtual void set_idle_timeout(std::chrono::milliseconds timeout) = 0;
  virtual const ConnectionInfo& connection() const = 0;
  virtual event_base* base() const = 0;
  virtual bool head_sent() const = 0;
};

// Application side of one exchange. Created by the factory when a request
// head arrives; destroyed by the server after the response has ended and
// the request has been read, or right after on_reset().
class ServerStreamHandler {
 public:
  virtual ~ServerStreamHandler() = default;
  virtual void on_request_head(RequestHead&& head, bool end_stream) = 0;
  virtual void on_request_body(std::string_view data, bool end_stream) = 0;
  // The exchange is over before the response ended (client disconnect,
  // timeout, protocol error). Do not touch the stream after this returns.
  virtual void on_reset() = 0;
  // pending_bytes() fell below the low watermark.
  virtual void on_drained() {}
  // Like on_reset(), but the server itself answered the client with `status`
  // (a request the codec refused mid-body: 400/413, or a body that did not
  // arrive in time: 408), so the handler can record what was really sent.
  // Do not touch the stream after this returns.
  virtual void on_refused(int status) {
    static_cast<void>(status);
    on_reset();
  }
};

using HandlerFactory = std::function<std::unique_ptr<ServerStreamHandler>(ServerStream&)>;

// Limits specific to HTTP/2 (see spec/security-cases.md §6).
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

class HttpServer {
 public:
  HttpServer(event_base* base, HandlerFactory factory, ServerOptions options = {});
  ~HttpServer();  // closes every connection; handlers get on_reset()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "host:port" ("127.0.0.1:0" binds a free port, "[::1]:8000", "0.0.0.0:8000").
  bool listen(const std::string& address, std::string* error);
  uint16_t port() const;
  void stop_accepting();
  // Graceful shutdown: stop accepting; idle connections close now, HTTP/1.1
  // exchanges in flight end with "Connection: close", HTTP/2 connections get
  // GOAWAY and close once their streams are done.
  void drain();
  // SIGHUP: re-reads the certificate and key (new connections use them;
  // open ones keep theirs). On failure nothing changes. A cleartext listener
  // becomes TLS (or the reverse) only by re-binding, not here: false.
  bool reload_tls(const std::string& certificate, const std::string& private_key,
                  std::string* error);
  size_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "host:port" / "[v6]:port"; false on anything else.
bool split_host_port(std::string_view address, std::string* host, uint16_t* port);

// Whether `address` ("host:port", port not 0) could be bound by a socket
// without SO_REUSEPORT right now (SO_REUSEADDR set, as listen() sets it):
// false, with the reason, when something already listens there. Used before
// binding several SO_REUSEPORT sockets, which would otherwise silently share
// a port with another process of the same user.
bool probe_bind(const std::string& address, std::string* error);

}  // namespace mag::http
