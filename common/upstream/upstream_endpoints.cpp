#include "common/upstream/upstream_endpoints.h"

#include <algorithm>

namespace mag::http {

UpstreamEndpoints::UpstreamEndpoints(std::vector<Endpoint> endpoints, Options options)
    : endpoints_(std::move(endpoints)),
      failure_backoff_(options.failure_backoff),
      down_until_(std::make_unique<std::atomic<int64_t>[]>(endpoints_.size())),
      sessions_(options.max_sessions, options.session_idle_timeout) {
  for (size_t i = 0; i < endpoints_.size(); ++i) down_until_[i].store(0);
}

bool UpstreamEndpoints::backing_off(size_t index, Clock::time_point now) const {
  const int64_t until = down_until_[index].load(std::memory_order_relaxed);
  return until != 0 && now.time_since_epoch().count() < until;
}

size_t UpstreamEndpoints::pick(Clock::time_point now) {
  const size_t n = endpoints_.size();
  const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (!backing_off(i, now)) return i;
  }
  return start;
}

std::optional<size_t> UpstreamEndpoints::pick_other(size_t failed, Clock::time_point now) {
  const size_t n = endpoints_.size();
  for (size_t k = 1; k < n; ++k) {
    const size_t i = (failed + k) % n;
    if (!backing_off(i, now)) return i;
  }
  return std::nullopt;
}

void UpstreamEndpoints::report_connect_failure(size_t index, Clock::time_point now) {
  const auto until = now + failure_backoff_;
  down_until_[index].store(std::max<int64_t>(1, until.time_since_epoch().count()),
                           std::memory_order_relaxed);
}

void UpstreamEndpoints::report_connected(size_t index) {
  // Only written when set: a healthy endpoint's cache line stays shared.
  if (down_until_[index].load(std::memory_order_relaxed) != 0) {
    down_until_[index].store(0, std::memory_order_relaxed);
  }
}

}  // namespace mag::http
