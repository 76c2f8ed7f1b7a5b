#include "backend/mcp_http_handler.h"

#include <event2/event.h>

#include <exception>

#include "backend/jsonrpc.h"
#include "common/core/log.h"

namespace mag::backend {
namespace {

constexpr std::string_view kKeepAlive = ": keep-alive\n\n";

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

McpHttpHandler::McpHttpHandler(http::ServerStream& stream, McpEndpoint& endpoint,
                               size_t max_body_bytes, std::chrono::milliseconds keepalive_interval)
    : stream_(stream),
      endpoint_(endpoint),
      max_body_bytes_(max_body_bytes),
      keepalive_interval_(keepalive_interval) {}

McpHttpHandler::~McpHttpHandler() {
  stop_stream();
}

void McpHttpHandler::on_request_head(http::RequestHead&& head, bool end_stream) {
  head_ = std::move(head);
  if (end_stream) respond();
}

void McpHttpHandler::on_request_body(std::string_view data, bool end_stream) {
  if (responded_) return;
  // The server codec enforces its own limit; this one holds whatever it is set to.
  if (body_.size() + data.size() > max_body_bytes_) {
    body_too_large_ = true;
  } else {
    body_.append(data);
  }
  if (end_stream) respond();
}

void McpHttpHandler::on_reset() {
  stop_stream();
}

void McpHttpHandler::stop_stream() {
  keepalive_.reset();
  session_end_.reset();
  if (!stream_session_.empty()) {
    endpoint_.detach_stream(stream_session_);
    stream_session_.clear();
  }
}

void McpHttpHandler::respond() {
  if (responded_) return;
  responded_ = true;
  Reply reply;
  try {
    if (body_too_large_) {
      reply = json_error_reply(413, jsonrpc::kServerError, "Payload Too Large");
    } else {
      reply = endpoint_.handle(head_, body_);
    }
  } catch (const std::exception& e) {
    log::error("backend", std::string("request failed: ") + e.what());
    reply = json_error_reply(500, jsonrpc::kInternalError, "Internal error");
  }
  // Built only when it is written: the string costs allocations per request.
  if (log::level() <= log::Level::kDebug) {
    log::debug("backend", head_.method + " " + log::sanitize(head_.path) + " -> " +
                              std::to_string(reply.status));
  }
  body_.clear();
  if (reply.open_stream) {
    open_stream(std::move(reply));
  } else {
    send(std::move(reply));
  }
}

void McpHttpHandler::send(Reply reply) {
  http::ResponseHead head;
  head.status = reply.status;
  head.headers = std::move(reply.headers);
  head.headers.set("Content-Length", std::to_string(reply.body.size()));
  if (reply.body.empty()) {
    stream_.send_head(std::move(head), true);
    return;
  }
  stream_.send_head(std::move(head), false);
  stream_.send_body(reply.body, true);
}

void McpHttpHandler::open_stream(Reply reply) {
  keepalive_.reset(event_new(stream_.base(), -1, EV_PERSIST, &on_keepalive, this));
  session_end_.reset(evtimer_new(stream_.base(), &on_session_end, this));
  // The session may end from inside another request's handling; we end our
  // response from our own event, never from inside that call.
  const bool attached = keepalive_ && session_end_ &&
                        endpoint_.attach_stream(reply.session_id, [event = session_end_.get()] {
                          event_active(event, EV_TIMEOUT, 0);
                        });
  if (!attached) {
    keepalive_.reset();
    session_end_.reset();
    send(json_error_reply(404, jsonrpc::kSessionNotFound, "Session not found"));
    return;
  }
  stream_session_ = reply.session_id;
  const timeval interval = to_timeval(keepalive_interval_);
  event_add(keepalive_.get(), &interval);
  stream_.set_idle_timeout(std::chrono::milliseconds(0));  // SSE: no idle limit
  http::ResponseHead head;
  head.status = reply.status;
  head.headers = std::move(reply.headers);
  stream_.send_head(std::move(head), false);
  stream_.send_body(reply.body, false);
}

void McpHttpHandler::on_keepalive(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<McpHttpHandler*>(arg);
  // A client that does not read gets no more bytes queued.
  if (!self->stream_.above_high_watermark()) self->stream_.send_body(kKeepAlive, false);
}

void McpHttpHandler::on_session_end(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<McpHttpHandler*>(arg);
  self->stream_session_.clear();  // the session is gone: nothing to detach
  self->keepalive_.reset();
  // Last action: ending the response may destroy this handler.
  self->stream_.send_body(std::string_view(), true);
}

http::HandlerFactory make_mcp_handler_factory(McpEndpoint& endpoint, size_t max_body_bytes) {
  return [&endpoint, max_body_bytes](http::ServerStream& stream) {
    return std::make_unique<McpHttpHandler>(stream, endpoint, max_body_bytes);
  };
}

}  // namespace mag::backend
