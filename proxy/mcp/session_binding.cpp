#include "proxy/mcp/session_binding.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <vector>

namespace mag::proxy {

SessionBindings::SessionBindings(Limits limits)
    : limits_(limits), entries_(limits.max_entries, limits.idle_timeout) {
  entries_.on_evict([this](const std::string&, Binding& binding) { detach(binding); });
}

void SessionBindings::set_limits(Limits limits, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
  std::vector<std::string> over;
  for (const auto& [principal, owned] : owners_) {
    if (owned.size() > per_principal()) over.push_back(principal);
  }
  for (const std::string& principal : over) trim(principal, per_principal(), now);
  while (!by_count_.empty() && entries_.size() > std::max<size_t>(1, limits_.max_entries)) {
    drop_from_largest(now);
  }
  entries_.set_limits(limits.max_entries, limits.idle_timeout);
}

SessionBindings::Check SessionBindings::check(std::span<const std::string> keys,
                                              const std::string& principal, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  bool matched = false;
  for (const std::string& key : keys) {
    auto* entry = entries_.find(key, now);
    if (entry == nullptr) continue;
    if (entry->value.owner->first != principal) return Check::kMismatch;
    matched = true;
  }
  if (!matched) return Check::kUnbound;
  for (const std::string& key : keys) {
    if (auto* entry = entries_.find(key, now)) touch(*entry, now);
  }
  return Check::kMatch;
}

void SessionBindings::bind(const std::string& key, const std::string& principal,
                           Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto* entry = entries_.find(key, now)) {
    if (entry->value.owner->first == principal) touch(*entry, now);  // the first owner stays
    return;
  }
  make_room(principal, now);
  auto& entry = entries_.insert(key, Binding{}, now);
  attach(key, principal, entry.value);
}

// Room for one more binding of `principal`: its own least recently used
// binding goes when it is at its limit; at the table bound, the least
// recently used binding of the principal that holds the most goes, so a
// principal that opens sessions without end evicts its own.
void SessionBindings::make_room(const std::string& principal, Clock::time_point now) {
  trim(principal, per_principal() - 1, now);
  while (!by_count_.empty() && entries_.size() >= std::max<size_t>(1, limits_.max_entries)) {
    drop_from_largest(now);
  }
}

// Looked up again after each drop: expiry inside it may remove the owner.
void SessionBindings::trim(const std::string& principal, size_t keep, Clock::time_point now) {
  for (auto it = owners_.find(principal); it != owners_.end() && it->second.size() > keep;
       it = owners_.find(principal)) {
    drop(std::string(it->second.back()), now);
  }
}

void SessionBindings::drop_from_largest(Clock::time_point now) {
  drop(std::string(std::prev(by_count_.end())->second->second.back()), now);
}

void SessionBindings::touch(IdleLruMap<Binding>::Entry& entry, Clock::time_point now) {
  entries_.touch(entry, now);
  auto& owned = entry.value.owner->second;
  owned.splice(owned.begin(), owned, entry.value.in_owner);
}

void SessionBindings::forget(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  drop(key, now);
}

void SessionBindings::drop(const std::string& key, Clock::time_point now) {
  if (auto* entry = entries_.find(key, now)) {
    detach(entry->value);
    entries_.erase(key);
  }
}

void SessionBindings::attach(const std::string& key, const std::string& principal,
                             Binding& binding) {
  Owner* owner = &*owners_.try_emplace(principal).first;
  auto& owned = owner->second;
  if (!owned.empty()) by_count_.erase({owned.size(), owner});
  owned.push_front(key);
  by_count_.insert({owned.size(), owner});
  binding = Binding{owner, owned.begin()};
}

void SessionBindings::detach(Binding& binding) {
  Owner* owner = binding.owner;
  auto& owned = owner->second;
  by_count_.erase({owned.size(), owner});
  owned.erase(binding.in_owner);
  if (owned.empty()) {
    owners_.erase(owners_.find(owner->first));
  } else {
    by_count_.insert({owned.size(), owner});
  }
}

size_t SessionBindings::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

size_t SessionBindings::count(const std::string& principal) const {
  std::lock_guard lock(mutex_);
  auto it = owners_.find(principal);
  return it == owners_.end() ? 0 : it->second.size();
}

std::string principal_key(const std::string& issuer, const std::string& subject,
                          const std::string& client_id) {
  std::string key;
  for (const std::string* part : {&issuer, &subject, &client_id}) {
    key += std::to_string(part->size()) + ":" + *part + ";";
  }
  return key;
}

std::string session_key(std::string_view host, uint16_t port, std::string_view session_id) {
  const bool v6 = host.find(':') != std::string_view::npos;
  std::string key = "http://";
  if (v6) key += '[';
  std::transform(host.begin(), host.end(), std::back_inserter(key),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v6) key += ']';
  key += ':' + std::to_string(port) + '\n';
  key += session_id;
  return key;
}

}  // namespace mag::proxy
