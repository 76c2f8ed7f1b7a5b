// The application's view of one request/response exchange, whatever the
// codec (HTTP/1.1 or HTTP/2, cleartext or TLS): the server hands each request
// to a ServerStreamHandler made by the application's factory, and the handler
// answers through the ServerStream.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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

// Tells `handler` that its exchange ended before a complete response went
// out: on_refused(status) when the server answered the client itself
// (`refused_status` != 0), on_reset() otherwise. An exception from the
// handler is logged under `log_tag`, never passed on (the caller is a C
// callback of the codec).
void notify_exchange_ended(ServerStreamHandler& handler, int refused_status,
                           std::string_view log_tag);

}  // namespace mag::http
