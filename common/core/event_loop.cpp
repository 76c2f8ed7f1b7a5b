#include "common/core/event_loop.h"
#include "common/core/exception_barrier.h"

#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>

#include <exception>
#include <future>

#include "common/core/log.h"

namespace mag {

EventBasePtr new_event_base() {
  static std::once_flag threads_enabled;
  // Must precede the first base: bases made before it have no locks.
  std::call_once(threads_enabled, [] {
    if (evthread_use_pthreads() != 0) log::error("loop", "evthread_use_pthreads failed");
  });
  return EventBasePtr(event_base_new());
}

Mailbox::Mailbox(event_base* base) : base_(base) {
  event_.reset(event_new(base, -1, 0, &Mailbox::on_event, this));
}

Mailbox::~Mailbox() = default;

void Mailbox::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  // Thread-safe on a base made by new_event_base(); activating an event that
  // is already active is a no-op, the batch below takes every queued task.
  event_active(event_.get(), EV_READ, 0);
}

void Mailbox::run_pending() {
  std::deque<Task> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(tasks_);
  }
  for (auto& task : batch) {
    exception_barrier(task, [](std::string_view what) {
      log::error("loop", "task failed: " + std::string(what));
    });
  }
}

void Mailbox::on_event(evutil_socket_t, short, void* self) {
  static_cast<Mailbox*>(self)->run_pending();
}

LoopThread::LoopThread() : base_(new_event_base()) {
  if (base_) mailbox_ = std::make_shared<Mailbox>(base_.get());
}

LoopThread::~LoopThread() {
  stop();
}

void LoopThread::start() {
  if (!base_ || thread_.joinable()) return;
  thread_ = std::thread([base = base_.get()] {
    // Process signals (SIGTERM, SIGHUP...) are the main loop's business.
    sigset_t blocked;
    sigemptyset(&blocked);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&blocked, sig);
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    // Keeps running with nothing to do: work arrives through the mailbox.
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
  });
}

void LoopThread::run_sync(const std::function<void()>& fn) {
  if (!thread_.joinable() || on_loop_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  mailbox_->post([&fn, &done] {
    try {
      fn();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  finished.get();  // rethrows what fn threw
}

void LoopThread::stop() {
  if (!thread_.joinable()) return;
  mailbox_->post([base = base_.get()] { event_base_loopexit(base, nullptr); });
  thread_.join();
}

}  // namespace mag
