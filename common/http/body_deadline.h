// The request-body deadline (ServerOptions::request_body_timeout) shared by
// the HTTP/1.1 and HTTP/2 server codecs: a budget of time for the client to
// deliver its body, whose clock stops while the gateway itself holds the body
// back (flow control towards a slow upstream is not the client's fault).
#pragma once

#include <event2/event.h>

#include <chrono>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"

namespace mag::http {

class BodyDeadline {
 public:
  // `on_expired(arg)` runs from the event loop when the budget is spent.
  BodyDeadline(event_base* base, event_callback_fn on_expired, void* arg)
      : timer_(evtimer_new(base, on_expired, arg)) {}

  // A fresh budget for a new body; 0 = no deadline.
  void start(std::chrono::milliseconds budget) {
    stop();
    left_ = budget;
    resume();
  }
  void resume() {
    if (left_.count() <= 0 || running_ || !timer_) return;
    running_ = true;
    started_ = std::chrono::steady_clock::now();
    const timeval tv = to_timeval(left_);
    evtimer_add(timer_.get(), &tv);
  }
  // Keeps what is left of the budget (at least 1 ms: suspending never expires it).
  void suspend() {
    if (!running_) return;
    running_ = false;
    evtimer_del(timer_.get());
    left_ -= std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_);
    if (left_.count() <= 0) left_ = std::chrono::milliseconds(1);
  }
  void stop() {
    running_ = false;
    left_ = std::chrono::milliseconds(0);
    if (timer_) evtimer_del(timer_.get());
  }
  // Called first by the expiry callback: the timer is no longer pending.
  void expired() { running_ = false; }

 private:
  EventPtr timer_;
  std::chrono::milliseconds left_{0};
  std::chrono::steady_clock::time_point started_;
  bool running_ = false;
};

}  // namespace mag::http
