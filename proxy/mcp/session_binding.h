// Mcp-Session-Id → principal (iss + sub + client_id). An unauthenticated
// upstream cannot tell users apart, so the gateway remembers who a session
// belongs to and answers 404 ("no such session") to anyone else.
//
// A session is named by the upstream endpoint that minted it plus its id
// (session_key): every route to that server shares the binding, whatever
// upstream name or path prefix it goes through.
//
// Bounded three ways: an idle binding expires; one principal holds at most
// `max_per_principal` bindings (its own least recently used one goes, never
// another principal's); the table holds at most `max_entries`, and when it
// is full the least recently used binding of the principal holding the most
// goes. DELETE and an upstream 404 end a binding. Shared by every request of
// the process and across config reloads; guarded by a mutex because it is.
// Every operation is O(log p) in the number of principals, plus the number
// of keys checked.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/core/idle_lru_map.h"

namespace mag::proxy {

class SessionBindings {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Check { kUnbound, kMatch, kMismatch };
  struct Limits {
    size_t max_entries = 100000;
    size_t max_per_principal = 1000;
    std::chrono::seconds idle_timeout{3600};
  };

  explicit SessionBindings(Limits limits);
  SessionBindings(const SessionBindings&) = delete;
  SessionBindings& operator=(const SessionBindings&) = delete;

  // `keys`: the names the session may have (one per endpoint the request
  // may go to). kMismatch when any of them is bound to another principal;
  // else kMatch when any is bound to `principal` (those are refreshed);
  // else kUnbound.
  Check check(std::span<const std::string> keys, const std::string& principal,
              Clock::time_point now);
  Check check(const std::string& key, const std::string& principal, Clock::time_point now) {
    return check(std::span<const std::string>(&key, 1), principal, now);
  }
  // Binds `key` to `principal` unless it is already bound (the first owner
  // stays), making room within the limits first.
  void bind(const std::string& key, const std::string& principal, Clock::time_point now);
  void forget(const std::string& key, Clock::time_point now);
  size_t size() const;
  // Bindings held by `principal`.
  size_t count(const std::string& principal) const;
  // Applied on config reload; shrinking evicts as bind() would.
  void set_limits(Limits limits, Clock::time_point now);

 private:
  // principal → its session keys, most recently used first
  using Owners = std::unordered_map<std::string, std::list<std::string>>;
  using Owner = Owners::value_type;  // node address stable until erased
  struct Binding {
    Owner* owner = nullptr;
    std::list<std::string>::iterator in_owner;
  };
  // Owners by number of bindings (the pointer only makes entries distinct).
  struct ByCount {
    bool operator()(const std::pair<size_t, Owner*>& a, const std::pair<size_t, Owner*>& b) const {
      return a.first != b.first ? a.first < b.first : std::less<Owner*>()(a.second, b.second);
    }
  };

  void attach(const std::string& key, const std::string& principal, Binding& binding);
  void detach(Binding& binding);
  void touch(IdleLruMap<Binding>::Entry& entry, Clock::time_point now);
  void drop(const std::string& key, Clock::time_point now);
  void make_room(const std::string& principal, Clock::time_point now);
  void trim(const std::string& principal, size_t keep, Clock::time_point now);
  void drop_from_largest(Clock::time_point now);
  size_t per_principal() const { return std::max<size_t>(1, limits_.max_per_principal); }

  mutable std::mutex mutex_;
  // All guarded by mutex_.
  Limits limits_;
  IdleLruMap<Binding> entries_;
  Owners owners_;
  std::set<std::pair<size_t, Owner*>, ByCount> by_count_;
};

// iss + sub + client_id as one key; each part is length-prefixed so that no
// two different principals can produce the same key.
std::string principal_key(const std::string& issuer, const std::string& subject,
                          const std::string& client_id);

// The binding name of `session_id` minted by the upstream server at
// host:port: "http://host:port" (host in lower case, an IPv6 literal in
// brackets) + "\n" + the id. Two upstream names or routes that reach the
// same host:port share it.
std::string session_key(std::string_view host, uint16_t port, std::string_view session_id);

}  // namespace mag::proxy
