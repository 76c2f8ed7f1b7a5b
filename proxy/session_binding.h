// Mcp-Session-Id → principal (iss + sub + client_id). An unauthenticated
// upstream cannot tell users apart, so the gateway remembers who a session
// belongs to and answers 404 ("no such session") to anyone else.
//
// Bounded: at most `max_entries` bindings; an idle binding expires, and when
// the table is full the least recently used one goes. A forgotten binding is
// re-established on the next successful use (trust on first use), so the
// table can be small without breaking clients; DELETE and an upstream 404
// end a binding. Shared by every request of the process and across config
// reloads; guarded by a mutex because it is.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

#include "common/core/idle_lru_map.h"

namespace mag::proxy {

class SessionBindings {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Check { kUnbound, kMatch, kMismatch };

  SessionBindings(size_t max_entries, std::chrono::seconds idle_timeout);

  // `key` names the session (route + Mcp-Session-Id). A match refreshes it.
  Check check(const std::string& key, const std::string& principal, Clock::time_point now);
  // Binds `key` to `principal` unless it is already bound (the first owner stays).
  void bind(const std::string& key, const std::string& principal, Clock::time_point now);
  void forget(const std::string& key);
  size_t size() const;
  void set_limits(size_t max_entries, std::chrono::seconds idle_timeout);

 private:
  mutable std::mutex mutex_;
  IdleLruMap<std::string> entries_;  // principal per session key; guarded by mutex_
};

// iss + sub + client_id as one key; each part is length-prefixed so that no
// two different principals can produce the same key.
std::string principal_key(const std::string& issuer, const std::string& subject,
                          const std::string& client_id);

}  // namespace mag::proxy
