// Event loops and the only ways work crosses between them (worker threads,
// docs/transport.md "Workers").
//
// - new_event_base(): every event_base of the process is made here, so a
//   change of backend flags is one line. It turns on libevent's pthread
//   locking first (evthread_use_pthreads): a Mailbox activates an event of
//   another thread's base, and evdns / the secure RNG are shared by bases.
// - Mailbox: tasks posted from any thread, run on the loop that owns it.
// - LoopThread: a thread running its own event_base until stopped.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/core/c_handles.h"

namespace mag {

// libevent's timeouts are timevals; every timer in the project is set from milliseconds.
inline timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// Null on failure. Safe to call from any thread.
EventBasePtr new_event_base();

class Mailbox {
 public:
  using Task = std::function<void()>;
  explicit Mailbox(event_base* base);
  ~Mailbox();  // tasks not yet run are destroyed (on the destroying thread)
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. The task runs later on the owning loop, never inside post().
  void post(Task task);
  // Runs what is queued now (the owning thread only; used at shutdown).
  void run_pending();
  event_base* base() const { return base_; }

 private:
  static void on_event(evutil_socket_t, short, void* self);

  event_base* base_;
  std::mutex mutex_;
  std::deque<Task> tasks_;
  EventPtr event_;
};

class LoopThread {
 public:
  LoopThread();   // creates the base; start() starts the thread
  ~LoopThread();  // stop()s
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  bool ok() const { return static_cast<bool>(base_); }
  void start();
  // Runs `fn` on the loop and waits for it. Runs it inline when called from
  // the loop itself, or when the thread is not running (not started, or
  // stopped: nothing else touches its objects then).
  void run_sync(const std::function<void()>& fn);
  // Lets the tasks already posted run, ends the loop and joins the thread.
  void stop();
  event_base* base() const { return base_.get(); }
  // Shared so that a callback that may outlive the thread can hold a weak_ptr.
  const std::shared_ptr<Mailbox>& mailbox() const { return mailbox_; }
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  EventBasePtr base_;
  std::shared_ptr<Mailbox> mailbox_;
  std::thread thread_;
};

}  // namespace mag
