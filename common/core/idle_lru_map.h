// A bounded string-keyed map whose entries expire when idle: at most
// `max_entries`; an entry not used for `idle_timeout` goes; when full, the
// least recently used entry goes. The bookkeeping shared by the session
// tables (common/upstream/affinity_table.h, proxy/mcp/session_binding.h), which add their
// own rules and their own lock: this class is not thread-safe.
//
// Expiry is lazy: every find and insert first drops the idle entries at the
// least-recently-used end, so the cost is amortised over the calls and no
// timer is needed.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace mag {

template <typename Value>
class IdleLruMap {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Value value;
    Clock::time_point last_used;
    std::list<std::string>::iterator lru;  // position in lru_ (front = most recent)
  };

  IdleLruMap(size_t max_entries, std::chrono::seconds idle_timeout)
      : max_entries_(at_least_one(max_entries)), idle_timeout_(idle_timeout) {}

  // The live entry for `key`, or nullptr; does not refresh it (see touch).
  Entry* find(const std::string& key, Clock::time_point now) {
    expire_idle(now);
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }

  // Marks `entry` (from find) as used now.
  void touch(Entry& entry, Clock::time_point now) {
    entry.last_used = now;
    lru_.splice(lru_.begin(), lru_, entry.lru);
  }

  // Adds `key`, which find has just reported absent, evicting the least
  // recently used entries while the map is full.
  Entry& insert(const std::string& key, Value value, Clock::time_point now) {
    while (entries_.size() >= max_entries_) evict(entries_.find(lru_.back()));
    lru_.push_front(key);
    return entries_.emplace(key, Entry{std::move(value), now, lru_.begin()}).first->second;
  }

  // Called with every entry that idle expiry or the size bound removes (not
  // with those erase() removes), just before it goes; for a user that keeps
  // its own index of the entries. It must not call back into the map.
  void on_evict(std::function<void(const std::string& key, Value& value)> callback) {
    on_evict_ = std::move(callback);
  }

  void erase(const std::string& key) {
    if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  }

  size_t size() const { return entries_.size(); }

  // Applied on config reload; shrinking evicts the least recently used.
  void set_limits(size_t max_entries, std::chrono::seconds idle_timeout) {
    max_entries_ = at_least_one(max_entries);
    idle_timeout_ = idle_timeout;
    while (entries_.size() > max_entries_) evict(entries_.find(lru_.back()));
  }

 private:
  using Iterator = typename std::unordered_map<std::string, Entry>::iterator;

  static size_t at_least_one(size_t n) { return n == 0 ? 1 : n; }

  void erase(Iterator it) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }

  void evict(Iterator it) {
    if (on_evict_) on_evict_(it->first, it->second.value);
    erase(it);
  }

  // The least recently used entries are at the back; stop at the first fresh one.
  void expire_idle(Clock::time_point now) {
    while (!lru_.empty()) {
      auto it = entries_.find(lru_.back());
      if (now - it->second.last_used < idle_timeout_) return;
      evict(it);
    }
  }

  size_t max_entries_;
  std::chrono::seconds idle_timeout_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;
  std::function<void(const std::string&, Value&)> on_evict_;
};

}  // namespace mag
