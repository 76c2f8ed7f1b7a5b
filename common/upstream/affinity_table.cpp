#include "common/upstream/affinity_table.h"

namespace mag::http {

AffinityTable::AffinityTable(size_t max_entries, std::chrono::seconds idle_timeout)
    : entries_(max_entries, idle_timeout) {}

void AffinityTable::set_limits(size_t max_entries, std::chrono::seconds idle_timeout) {
  std::lock_guard lock(mutex_);
  entries_.set_limits(max_entries, idle_timeout);
}

std::optional<size_t> AffinityTable::find(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto* entry = entries_.find(key, now);
  if (entry == nullptr) return std::nullopt;
  entries_.touch(*entry, now);
  return entry->value;
}

void AffinityTable::bind(const std::string& key, size_t endpoint, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto* entry = entries_.find(key, now)) {
    entry->value = endpoint;
    entries_.touch(*entry, now);
    return;
  }
  entries_.insert(key, endpoint, now);
}

void AffinityTable::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

size_t AffinityTable::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace mag::http
