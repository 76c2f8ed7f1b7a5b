// common/core/log_rate_limiter.h: the per-key token bucket behind
// log::limited, driven with an explicit clock.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/core/log_rate_limiter.h"

using mag::log::LogRateLimiter;
using namespace std::chrono_literals;

namespace {

// How many of `n` calls at `now` were admitted; the last verdict in `*last`.
int admitted(LogRateLimiter& limiter, std::string_view key, int n,
             LogRateLimiter::Clock::time_point now, LogRateLimiter::Verdict* last = nullptr) {
  int written = 0;
  for (int i = 0; i < n; ++i) {
    const auto verdict = limiter.admit(key, now);
    if (verdict.write) ++written;
    if (last) *last = verdict;
  }
  return written;
}

}  // namespace

TEST_CASE("LogRateLimiter: a burst, then one line per interval carrying the count") {
  LogRateLimiter limiter({.burst = 10, .interval = 10s});
  const auto t0 = LogRateLimiter::Clock::time_point{} + 1000s;
  CHECK(admitted(limiter, "k", 25, t0) == 10);
  // 9.999 s later: nothing came back yet.
  CHECK(admitted(limiter, "k", 5, t0 + 9999ms) == 0);
  LogRateLimiter::Verdict verdict;
  CHECK(admitted(limiter, "k", 1, t0 + 10s, &verdict) == 1);
  CHECK(verdict.suppressed == 20);  // 15 + 5 not written
  CHECK(admitted(limiter, "k", 100, t0 + 15s) == 0);
  CHECK(admitted(limiter, "k", 1, t0 + 20s, &verdict) == 1);
  CHECK(verdict.suppressed == 100);
  // A steady flood of one line per ms for 60 s: one line per 10 s.
  int written = 0;
  for (int ms = 1; ms <= 60000; ++ms) written += admitted(limiter, "k", 1, t0 + 20s + ms * 1ms);
  CHECK(written == 6);
}

TEST_CASE("LogRateLimiter: a quiet key gets its burst back, never more") {
  LogRateLimiter limiter({.burst = 3, .interval = 1s});
  const auto t0 = LogRateLimiter::Clock::time_point{} + 100s;
  CHECK(admitted(limiter, "k", 3, t0) == 3);
  CHECK(admitted(limiter, "k", 10, t0 + 2s) == 2);
  CHECK(admitted(limiter, "k", 10, t0 + 1h) == 3);
}

TEST_CASE("LogRateLimiter: keys have their own budgets, up to max_keys") {
  LogRateLimiter limiter({.burst = 1, .interval = 60s, .max_keys = 4});
  const auto t0 = LogRateLimiter::Clock::time_point{} + 100s;
  for (int i = 0; i < 4; ++i) CHECK(admitted(limiter, "key" + std::to_string(i), 5, t0) == 1);
  // Further keys share one overflow budget: one line for all of them.
  int overflow = 0;
  for (int i = 4; i < 10000; ++i) overflow += admitted(limiter, "key" + std::to_string(i), 1, t0);
  CHECK(overflow == 1);
  CHECK(limiter.tracked_keys() == 4);
  limiter.reset({.burst = 1, .interval = 60s, .max_keys = 4});
  CHECK(limiter.tracked_keys() == 0);
  CHECK(admitted(limiter, "key9999", 2, t0) == 1);
}

TEST_CASE("LogRateLimiter: interval 0 writes every line") {
  LogRateLimiter limiter({.burst = 1, .interval = 0ms});
  CHECK(admitted(limiter, "k", 100, LogRateLimiter::Clock::now()) == 100);
}

TEST_CASE("LogRateLimiter: threads share the budget exactly") {
  LogRateLimiter limiter({.burst = 50, .interval = 3600s});
  const auto now = LogRateLimiter::Clock::now();
  std::atomic<int> written{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] { written += admitted(limiter, "shared", 10000, now); });
  }
  for (auto& thread : threads) thread.join();
  CHECK(written == 50);
  LogRateLimiter::Verdict verdict;
  CHECK(admitted(limiter, "shared", 1, now + 3600s, &verdict) == 1);
  CHECK(verdict.suppressed == 4 * 10000 - 50);
}
