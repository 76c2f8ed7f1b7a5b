#include "common/core/log_rate_limiter.h"

#include <algorithm>

namespace mag::log {

LogRateLimiter::LogRateLimiter() : limits_(Limits{}) {}

LogRateLimiter::LogRateLimiter(Limits limits) : limits_(limits) {}

void LogRateLimiter::reset(Limits limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
  budgets_.clear();
  overflow_used_ = false;
}

size_t LogRateLimiter::tracked_keys() const {
  std::lock_guard lock(mutex_);
  return budgets_.size();
}

LogRateLimiter::Budget& LogRateLimiter::budget_for(std::string_view key, Clock::time_point now) {
  if (auto it = budgets_.find(key); it != budgets_.end()) return it->second;
  if (budgets_.size() < limits_.max_keys) {
    return budgets_.emplace(std::string(key), fresh(now)).first->second;
  }
  if (!overflow_used_) {
    overflow_ = fresh(now);
    overflow_used_ = true;
  }
  return overflow_;
}

// One line of budget back per whole interval elapsed, up to `burst`.
void LogRateLimiter::refill(Budget& budget, Clock::time_point now) const {
  if (now <= budget.refilled) return;
  const int64_t intervals = (now - budget.refilled) / limits_.interval;
  if (intervals <= 0) return;
  const size_t missing = limits_.burst - std::min(budget.lines, limits_.burst);
  if (static_cast<uint64_t>(intervals) >= missing) {
    budget.lines = limits_.burst;
    budget.refilled = now;
    return;
  }
  budget.lines += static_cast<size_t>(intervals);
  budget.refilled += intervals * limits_.interval;
}

LogRateLimiter::Verdict LogRateLimiter::admit(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (limits_.interval.count() <= 0) return {true, 0};
  Budget& budget = budget_for(key, now);
  refill(budget, now);
  if (budget.lines == 0) {
    ++budget.suppressed;
    return {false, 0};
  }
  --budget.lines;
  const Verdict verdict{true, budget.suppressed};
  budget.suppressed = 0;
  return verdict;
}

}  // namespace mag::log
