#include "common/affinity_table.h"

namespace mag::http {

AffinityTable::AffinityTable(size_t max_entries, std::chrono::seconds idle_timeout)
    : max_entries_(max_entries == 0 ? 1 : max_entries), idle_timeout_(idle_timeout) {}

void AffinityTable::set_limits(size_t max_entries, std::chrono::seconds idle_timeout) {
  std::lock_guard lock(mutex_);
  max_entries_ = max_entries == 0 ? 1 : max_entries;
  idle_timeout_ = idle_timeout;
  while (entries_.size() > max_entries_) erase(entries_.find(lru_.back()));
}

void AffinityTable::erase(std::unordered_map<std::string, Entry>::iterator it) {
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

// The least recently used entries are at the back; stop at the first fresh one.
void AffinityTable::expire_idle(Clock::time_point now) {
  while (!lru_.empty()) {
    auto it = entries_.find(lru_.back());
    if (now - it->second.last_used < idle_timeout_) return;
    erase(it);
  }
}

std::optional<size_t> AffinityTable::find(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire_idle(now);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  it->second.last_used = now;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.endpoint;
}

void AffinityTable::bind(const std::string& key, size_t endpoint, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire_idle(now);
  if (auto it = entries_.find(key); it != entries_.end()) {
    it->second.endpoint = endpoint;
    it->second.last_used = now;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (entries_.size() >= max_entries_) erase(entries_.find(lru_.back()));
  lru_.push_front(key);
  entries_.emplace(key, Entry{endpoint, now, lru_.begin()});
}

void AffinityTable::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
}

size_t AffinityTable::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace mag::http
