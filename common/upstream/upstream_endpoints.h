// What every worker's UpstreamPool of one upstream shares: the endpoint
// list, the round-robin position, the passive health state of each endpoint
// and the session-affinity table (docs/transport.md "Several endpoints").
//
// Created once per upstream per config snapshot and carried across reloads
// when the upstream's endpoints are unchanged (proxy/router/upstream_shared.h), so
// sessions keep their endpoint. Thread-safe: the endpoint list is immutable,
// round-robin and health are atomics, the affinity table has its own mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/upstream/affinity_table.h"

namespace mag::http {

struct Endpoint {
  std::string host;  // a name or an address literal (IPv6 without brackets)
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

class UpstreamEndpoints {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    // An endpoint whose connect failed is skipped by round-robin this long
    // (passive health check); a successful connect ends it early.
    std::chrono::milliseconds failure_backoff{2000};
    size_t max_sessions = 100000;  // affinity table bound
    std::chrono::seconds session_idle_timeout{3600};
  };

  // `endpoints` must not be empty.
  UpstreamEndpoints(std::vector<Endpoint> endpoints, Options options);
  explicit UpstreamEndpoints(std::vector<Endpoint> endpoints)
      : UpstreamEndpoints(std::move(endpoints), Options{}) {}
  UpstreamEndpoints(const UpstreamEndpoints&) = delete;
  UpstreamEndpoints& operator=(const UpstreamEndpoints&) = delete;

  const std::vector<Endpoint>& endpoints() const { return endpoints_; }
  size_t size() const { return endpoints_.size(); }

  // The next endpoint in round-robin order, skipping those in back-off; when
  // all are in back-off, plain round-robin (one of them may be back).
  size_t pick(Clock::time_point now);
  // For the one retry after a connect failure on `failed`: the next endpoint
  // after it that is not in back-off; none when there is no such endpoint.
  std::optional<size_t> pick_other(size_t failed, Clock::time_point now);

  void report_connect_failure(size_t index, Clock::time_point now);
  void report_connected(size_t index);
  bool backing_off(size_t index, Clock::time_point now) const;

  // Mcp-Session-Id → endpoint index.
  AffinityTable& sessions() { return sessions_; }

 private:
  const std::vector<Endpoint> endpoints_;
  const std::chrono::milliseconds failure_backoff_;
  std::atomic<size_t> next_{0};
  // Per endpoint: end of its back-off in steady_clock ticks; 0 = healthy.
  std::unique_ptr<std::atomic<int64_t>[]> down_until_;
  AffinityTable sessions_;
};

}  // namespace mag::http
