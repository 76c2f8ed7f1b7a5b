#include "proxy/session_binding.h"

namespace mag::proxy {

SessionBindings::SessionBindings(size_t max_entries, std::chrono::seconds idle_timeout)
    : max_entries_(max_entries == 0 ? 1 : max_entries), idle_timeout_(idle_timeout) {}

void SessionBindings::set_limits(size_t max_entries, std::chrono::seconds idle_timeout) {
  std::lock_guard lock(mutex_);
  max_entries_ = max_entries == 0 ? 1 : max_entries;
  idle_timeout_ = idle_timeout;
  while (entries_.size() > max_entries_) erase(entries_.find(lru_.back()));
}

void SessionBindings::touch(Entry& entry, Clock::time_point now) {
  entry.last_used = now;
  lru_.splice(lru_.begin(), lru_, entry.lru);
}

void SessionBindings::erase(std::unordered_map<std::string, Entry>::iterator it) {
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

// The least recently used entries are at the back; stop at the first fresh one.
void SessionBindings::expire_idle(Clock::time_point now) {
  while (!lru_.empty()) {
    auto it = entries_.find(lru_.back());
    if (now - it->second.last_used < idle_timeout_) return;
    erase(it);
  }
}

SessionBindings::Check SessionBindings::check(const std::string& key, const std::string& principal,
                                              Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire_idle(now);
  auto it = entries_.find(key);
  if (it == entries_.end()) return Check::kUnbound;
  if (it->second.principal != principal) return Check::kMismatch;
  touch(it->second, now);
  return Check::kMatch;
}

void SessionBindings::bind(const std::string& key, const std::string& principal,
                           Clock::time_point now) {
  std::lock_guard lock(mutex_);
  expire_idle(now);
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (it->second.principal == principal) touch(it->second, now);
    return;
  }
  while (entries_.size() >= max_entries_) erase(entries_.find(lru_.back()));
  lru_.push_front(key);
  entries_.emplace(key, Entry{principal, now, lru_.begin()});
}

void SessionBindings::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
}

size_t SessionBindings::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::string principal_key(const std::string& issuer, const std::string& subject,
                          const std::string& client_id) {
  std::string key;
  for (const std::string* part : {&issuer, &subject, &client_id}) {
    key += std::to_string(part->size()) + ":" + *part + ";";
  }
  return key;
}

}  // namespace mag::proxy
