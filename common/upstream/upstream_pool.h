// Keep-alive HTTP/1.1 client towards one upstream: one endpoint, or several
// (round-robin, passive health, see common/upstream/upstream_endpoints.h). A request
// is a ClientStream: head (+ body pieces) out, response head and body pieces
// back through ClientStreamCallbacks as they arrive. Destroying the
// ClientStream cancels the exchange (the connection is closed if it was
// mid-flight).
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/http1_codec.h"
#include "common/http/http_message.h"
#include "common/upstream/upstream_endpoints.h"
#include "common/upstream/upstream_tls.h"

namespace mag::http {

enum class ClientError {
  kConnectFailed,    // refused, unreachable, DNS failure -> 502
  kConnectTimeout,   // -> 504
  kResponseTimeout,  // no response head in time -> 504
  kIdleTimeout,      // nothing received for too long mid-body
  kReset,            // peer closed / reset mid-exchange -> 502 (or abort if head sent)
  kProtocolError,    // malformed response -> 502
  kPoolExhausted,    // connection limit reached -> 503
  // https:// upstreams: the TLS handshake failed -> 502. The detail is the
  // verify error string or the OpenSSL reason.
  kTlsVerify,     // the certificate chain or name did not verify
  kTlsProtocol,   // no common protocol version (TLS 1.2 is the minimum)
  kTlsHandshake,  // any other handshake failure (e.g. a client certificate refused)
};
// Whether `e` is one of the kTls* errors.
bool is_tls_error(ClientError e);
std::string_view to_string(ClientError e);

class ClientStreamCallbacks {
 public:
  virtual ~ClientStreamCallbacks() = default;
  // end_stream: the response has no body (HEAD, 204, 304, Content-Length: 0).
  virtual void on_response_head(ResponseHead&& head, bool end_stream) = 0;
  // Pieces as they arrive from the socket; the last call has end_stream (and
  // may carry no data). `data` is only valid during the call.
  virtual void on_response_body(std::string_view data, bool end_stream) = 0;
  // The pieces of one socket read have all been delivered (on_response_body,
  // not end_stream): the receiver may pass them on now instead of at the end
  // of the loop turn (an SSE event reaches its client without waiting for
  // the other streams' reads of the same epoll batch). Not called after the
  // last piece. May destroy the ClientStream.
  virtual void on_response_read_done() {}
  // Terminal. After it, no other callback comes; the ClientStream may be destroyed.
  // If on_response_head() already ran, the response is truncated (kReset,
  // kIdleTimeout, kProtocolError): never complete it downstream.
  // Any callback may destroy the ClientStream (and even the pool) from inside.
  virtual void on_error(ClientError error, std::string_view detail) = 0;
};

class ClientStream {
 public:
  virtual ~ClientStream() = default;  // cancels if not complete
  virtual void send_body(std::string_view data, bool end_stream) = 0;
  // Flow control: stop / resume reading the upstream response.
  virtual void pause_response(bool paused) = 0;
  virtual size_t pending_request_bytes() const = 0;
  // Index (in UpstreamEndpoints::endpoints()) of the endpoint this exchange
  // went to; after a connect-failure retry, the one it was moved to.
  virtual size_t endpoint() const = 0;
};

struct PoolOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // From the last request byte handed to the pool to the response head.
  std::chrono::milliseconds response_header_timeout{60000};
  std::chrono::milliseconds idle_timeout{300000};  // mid-body silence; 0 = none
  // An idle keep-alive connection is closed after this long unused (upstream
  // servers drop idle connections too; closing first avoids reuse races). 0 = never.
  std::chrono::milliseconds keepalive_timeout{30000};
  size_t max_connections = 1024;
  size_t max_idle_connections = 64;
  // Set for an https:// upstream: every connection is TLS with these settings.
  std::shared_ptr<const UpstreamTls> tls;
  CodecLimits limits{.max_request_line = 8 * 1024,
                     .max_head_bytes = 64 * 1024,
                     .max_header_count = 200,
                     .max_body_bytes = 0};
};

// Per-request choices (proxy: route timeouts, session affinity).
struct StartOptions {
  // Overrides of the PoolOptions timeouts for this exchange (a per-route
  // `timeouts:`); unset = the pool's.
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::optional<std::chrono::milliseconds> response_header_timeout;
  std::optional<std::chrono::milliseconds> idle_timeout;
  // Send to this endpoint (session affinity) and never move the exchange to
  // another one; unset = round-robin, and a connect failure before anything
  // was sent is retried once on the next healthy endpoint.
  std::optional<size_t> endpoint;
};

class UpstreamPool {
 public:
  // `host` is a name or an address literal; names are resolved asynchronously.
  UpstreamPool(event_base* base, std::string host, uint16_t port, PoolOptions options = {});
  // Several endpoints, shared with the other workers' pools of the same
  // upstream. Limits (max_connections, idle connections) apply per endpoint.
  UpstreamPool(event_base* base, std::shared_ptr<UpstreamEndpoints> endpoints,
               PoolOptions options = {});
  ~UpstreamPool();  // active streams get on_error(kReset)
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Sends `head` (framing: Content-Length if the caller set it, else chunked
  // unless end_stream, in which case no body). Reuses an idle connection when
  // one is there. Never calls back from inside this call: every outcome,
  // including kPoolExhausted, arrives from the event loop. Never returns null.
  // A Host header is added when `head` has none; Transfer-Encoding from the
  // caller is replaced by the pool's own framing.
  // Host is the chosen endpoint's `host[:port]` unless `head` has one (a
  // caller that wants the endpoint's Host with several endpoints leaves it out).
  std::unique_ptr<ClientStream> start(RequestHead head, bool end_stream,
                                      ClientStreamCallbacks& callbacks,
                                      const StartOptions& options = {});
  const std::shared_ptr<UpstreamEndpoints>& endpoints() const;
  size_t idle_connections() const;
  size_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mag::http
