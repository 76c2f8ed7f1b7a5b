// The caller's handle for one exchange with an upstream (UpstreamPool::start
// returns it as a ClientStream): owns the request framing, the copy of the
// request kept for one retry or one move to another endpoint, and the
// exchange's timeouts. It and its UpstreamConnection point at each other
// while the exchange runs; whichever side goes first detaches the other.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/core/c_handles.h"
#include "common/http/http_message.h"
#include "common/upstream/upstream_pool.h"

namespace mag::http {

class UpstreamConnection;

class UpstreamStream final : public ClientStream {
 public:
  enum class Framing { kNone, kLength, kChunked };

  UpstreamStream(event_base* base, ClientStreamCallbacks& callbacks);
  ~UpstreamStream() override;

  void send_body(std::string_view data, bool end_stream) override;
  void pause_response(bool paused) override;
  size_t pending_request_bytes() const override;
  size_t endpoint() const override { return endpoint_; }

  // A connection of this stream reached the upstream: bytes may have been
  // sent, so it can no longer move to another endpoint.
  void reached_upstream() {
    replayable_ = false;
    replay_body_.clear();
    replay_body_.shrink_to_fit();
    std::exchange(replay_head_, RequestHead());  // moved out: its buffers are freed
  }

  // A response head arrived: the request can no longer be retried, and a
  // streamed response may stay open for hours; its serialised head goes
  // now.
  void response_began() { std::string().swap(head_bytes_); }

  // Ends the exchange with `error`, delivered from the event loop.
  void fail_later(ClientError error, std::string detail);
  // Terminal delivery helpers; the caller must not touch `this` afterwards.
  void deliver_error(ClientError error, std::string_view detail) {
    finished_ = true;
    callbacks_.on_error(error, detail);
  }

  ClientStreamCallbacks& callbacks_;
  UpstreamConnection* conn_ = nullptr;
  std::string head_bytes_;  // serialised head, kept for the one retry
  std::string method_;
  Framing framing_ = Framing::kNone;
  uint64_t body_remaining_ = 0;  // kLength only
  bool request_done_ = false;
  bool wants_close_ = false;  // the request said Connection: close
  bool retryable_ = false;
  bool retried_ = false;
  bool finished_ = false;
  bool paused_ = false;
  // Endpoint choice and failover (several endpoints).
  size_t endpoint_ = 0;
  bool replayable_ = false;  // may still move to another endpoint
  RequestHead replay_head_;  // the caller's head, without the endpoint's Host
  std::string replay_body_;  // framed body bytes written so far
  // This exchange's timeouts (the pool's, or the caller's overrides).
  std::chrono::milliseconds connect_timeout_{};
  std::chrono::milliseconds header_timeout_{};
  std::chrono::milliseconds idle_timeout_{};

 private:
  static void on_deferred(evutil_socket_t, short, void* arg) noexcept;
  EventPtr deferred_;
  ClientError deferred_error_ = ClientError::kReset;
  std::string deferred_detail_;
};

}  // namespace mag::http
