#include "common/upstream/upstream_stream.h"

#include <string>

#include "common/core/exception_barrier.h"
#include "common/core/log.h"
#include "common/upstream/upstream_connection.h"

namespace mag::http {

namespace {

constexpr std::string_view kLog = "upstream";
// A stream whose connect failed may be moved to another endpoint only while
// everything it wrote is still in hand; bodies above this are not kept.
constexpr size_t kMaxReplayBytes = 64 * 1024;

}  // namespace

UpstreamStream::UpstreamStream(event_base* base, ClientStreamCallbacks& callbacks)
    : callbacks_(callbacks),
      deferred_(event_new(base, -1, 0, &UpstreamStream::on_deferred, this)) {}

UpstreamStream::~UpstreamStream() {
  // Never hand a half-used connection back to the pool.
  if (conn_) conn_->abandon();
}

void UpstreamStream::send_body(std::string_view data, bool end_stream) {
  if (finished_ || request_done_) return;
  std::string out;
  switch (framing_) {
    case Framing::kNone:
      if (!data.empty()) {
        fail_later(ClientError::kProtocolError, "request body sent on a request without one");
        return;
      }
      break;
    case Framing::kLength:
      if (data.size() > body_remaining_) {
        // Sending more would smuggle bytes into the next request.
        fail_later(ClientError::kProtocolError, "request body longer than its Content-Length");
        return;
      }
      body_remaining_ -= data.size();
      if (end_stream && body_remaining_ != 0) {
        fail_later(ClientError::kProtocolError, "request body shorter than its Content-Length");
        return;
      }
      out.assign(data);
      break;
    case Framing::kChunked:
      if (!data.empty()) {
        out = chunk_prefix(data.size());
        out.append(data);
        out.append(kChunkSuffix);
      }
      if (end_stream) out.append(kLastChunk);
      break;
  }
  request_done_ = end_stream;
  if (replayable_) {
    if (conn_ && conn_->connected()) {
      reached_upstream();
    } else if (replay_body_.size() + out.size() > kMaxReplayBytes) {
      reached_upstream();  // too much to keep: no failover for this one
    } else {
      replay_body_.append(out);
    }
  }
  if (conn_) {
    if (!out.empty()) conn_->write(out);
    conn_->request_progress();
  }
}

void UpstreamStream::pause_response(bool paused) {
  paused_ = paused;
  if (conn_) conn_->set_paused(paused);
}

size_t UpstreamStream::pending_request_bytes() const {
  return conn_ ? conn_->pending_output() : 0;
}

void UpstreamStream::fail_later(ClientError error, std::string detail) {
  if (finished_) return;
  finished_ = true;  // nothing else reaches the caller
  if (conn_) conn_->abandon();
  deferred_error_ = error;
  deferred_detail_ = std::move(detail);
  if (deferred_) event_active(deferred_.get(), 0, 0);
}

void UpstreamStream::on_deferred(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<UpstreamStream*>(arg);
  exception_barrier(
      [&] { self->callbacks_.on_error(self->deferred_error_, self->deferred_detail_); },
      [](std::string_view what) {
        log::error(kLog, "exception in on_error: " + std::string(what));
      });
}

}  // namespace mag::http
