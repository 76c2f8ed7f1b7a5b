// Session id → endpoint index, for the upstreams that have several endpoints
// (docs/transport.md "Several endpoints"): a session created on one endpoint
// must come back to it. Bounded like proxy/mcp/session_binding.h: at most
// `max_entries`; an idle entry expires; when full, the least recently used
// entry goes (its session then goes wherever round-robin sends it, and the
// endpoint that does not know it answers 404, so the client re-initializes).
//
// Thread-safe: one table per upstream is shared by every worker thread, since
// a session's next request may arrive on any worker. A mutex is acceptable
// here: only requests that carry an Mcp-Session-Id touch the table, and the
// critical section is one hash lookup plus a list splice (no allocation on a
// hit, no I/O, no callbacks under the lock).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>

#include "common/core/idle_lru_map.h"

namespace mag::http {

class AffinityTable {
 public:
  using Clock = std::chrono::steady_clock;

  AffinityTable(size_t max_entries, std::chrono::seconds idle_timeout);

  // The endpoint `key` is bound to; a hit refreshes the entry.
  std::optional<size_t> find(const std::string& key, Clock::time_point now);
  // Binds (or re-binds) `key` to `endpoint`, evicting the least recently used
  // entry when the table is full.
  void bind(const std::string& key, size_t endpoint, Clock::time_point now);
  void forget(const std::string& key);
  size_t size() const;
  // Applied on config reload; shrinking evicts the least recently used.
  void set_limits(size_t max_entries, std::chrono::seconds idle_timeout);

 private:
  mutable std::mutex mutex_;
  IdleLruMap<size_t> entries_;  // guarded by mutex_
};

}  // namespace mag::http
