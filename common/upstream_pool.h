// Keep-alive HTTP/1.1 client towards one upstream endpoint. A request is a
// ClientStream: head (+ body pieces) out, response head and body pieces back
// through ClientStreamCallbacks as they arrive. Destroying the ClientStream
// cancels the exchange (the connection is closed if it was mid-flight).
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/http1_codec.h"
#include "common/http_message.h"

namespace mag::http {

enum class ClientError {
  kConnectFailed,        // refused, unreachable, DNS failure -> 502
  kConnectTimeout,       // -> 504
  kResponseTimeout,      // no response head in time -> 504
  kIdleTimeout,          // nothing received for too long mid-body
  kReset,                // peer closed / reset mid-exchange -> 502 (or abort if head sent)
  kProtocolError,        // malformed response -> 502
  kPoolExhausted,        // connection limit reached -> 503
};
std::string_view to_string(ClientError e);

class ClientStreamCallbacks {
 public:
  virtual ~ClientStreamCallbacks() = default;
  virtual void on_response_head(ResponseHead&& head, bool end_stream) = 0;
  virtual void on_response_body(std::string_view data, bool end_stream) = 0;
  // Terminal. After it, no other callback comes; the ClientStream may be destroyed.
  virtual void on_error(ClientError error, std::string_view detail) = 0;
};

class ClientStream {
 public:
  virtual ~ClientStream() = default;  // cancels if not complete
  virtual void send_body(std::string_view data, bool end_stream) = 0;
  // Flow control: stop / resume reading the upstream response.
  virtual void pause_response(bool paused) = 0;
  virtual size_t pending_request_bytes() const = 0;
};

struct PoolOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds response_header_timeout{60000};
  std::chrono::milliseconds idle_timeout{300000};  // mid-body silence; 0 = none
  size_t max_connections = 1024;
  size_t max_idle_connections = 64;
  CodecLimits limits{.max_request_line = 8 * 1024,
                     .max_head_bytes = 64 * 1024,
                     .max_header_count = 200,
                     .max_body_bytes = 0};
};

class UpstreamPool {
 public:
  // `host` is a name or an address literal; names are resolved asynchronously.
  UpstreamPool(event_base* base, std::string host, uint16_t port, PoolOptions options = {});
  ~UpstreamPool();  // active streams get on_error(kReset)
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Sends `head` (framing: Content-Length if the caller set it, else chunked
  // unless end_stream, in which case no body). Reuses an idle connection when
  // one is there. Callbacks may fire from inside this call only for kPoolExhausted.
  std::unique_ptr<ClientStream> start(RequestHead head, bool end_stream,
                                      ClientStreamCallbacks& callbacks);
  size_t idle_connections() const;
  size_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mag::http
