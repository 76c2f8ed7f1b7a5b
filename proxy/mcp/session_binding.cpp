#include "proxy/mcp/session_binding.h"

namespace mag::proxy {

SessionBindings::SessionBindings(size_t max_entries, std::chrono::seconds idle_timeout)
    : entries_(max_entries, idle_timeout) {}

void SessionBindings::set_limits(size_t max_entries, std::chrono::seconds idle_timeout) {
  std::lock_guard lock(mutex_);
  entries_.set_limits(max_entries, idle_timeout);
}

SessionBindings::Check SessionBindings::check(const std::string& key, const std::string& principal,
                                              Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto* entry = entries_.find(key, now);
  if (entry == nullptr) return Check::kUnbound;
  if (entry->value != principal) return Check::kMismatch;
  entries_.touch(*entry, now);
  return Check::kMatch;
}

void SessionBindings::bind(const std::string& key, const std::string& principal,
                           Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto* entry = entries_.find(key, now)) {
    if (entry->value == principal) entries_.touch(*entry, now);  // the first owner stays
    return;
  }
  entries_.insert(key, principal, now);
}

void SessionBindings::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
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
