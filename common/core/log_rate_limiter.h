// The budget of log lines that any client can cause once per request (a
// refused token, a refused Origin): per key, a token bucket. A key writes
// its first `burst` lines at once; after that its budget comes back at one
// line per `interval`, so a steady flood writes one line per interval per
// key. Lines over the budget are only counted, and the next line written for
// that key reports how many there were. Memory is bounded whatever the keys:
// at most `max_keys` keys get their own budget, any further key shares one
// overflow budget. Thread-safe: worker threads share one limiter (a mutex
// held for one map lookup).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace mag::log {

class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    size_t burst = 10;
    std::chrono::milliseconds interval{10000};  // 0: no limit
    size_t max_keys = 256;
  };
  struct Verdict {
    bool write = false;
    uint64_t suppressed = 0;  // lines of this key not written since its last written one
  };

  LogRateLimiter();  // the default Limits
  explicit LogRateLimiter(Limits limits);
  Verdict admit(std::string_view key, Clock::time_point now);
  // New limits; every key's state is forgotten.
  void reset(Limits limits);
  size_t tracked_keys() const;

 private:
  struct Budget {
    Clock::time_point refilled;  // when `lines` was last topped up
    size_t lines = 0;            // lines that may still be written now
    uint64_t suppressed = 0;
  };
  Budget fresh(Clock::time_point now) const { return Budget{now, limits_.burst, 0}; }
  Budget& budget_for(std::string_view key, Clock::time_point now);
  void refill(Budget& budget, Clock::time_point now) const;

  mutable std::mutex mutex_;
  Limits limits_;
  std::map<std::string, Budget, std::less<>> budgets_;
  Budget overflow_;
  bool overflow_used_ = false;
};

}  // namespace mag::log
