#include "proxy/credentials/exchange_cache.h"

#include <openssl/sha.h>

#include <algorithm>

namespace mag::credentials {

ExchangeCache::Digest ExchangeCache::digest(std::string_view subject_token) {
  Digest out{};
  SHA256(reinterpret_cast<const unsigned char*>(subject_token.data()), subject_token.size(),
         out.data());
  return out;
}

ExchangeCache::ExchangeCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

bool ExchangeCache::find(const Digest& key, int64_t now_ms, std::string* header) {
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return false;
  Entries::iterator entry = found->second;
  if (now_ms >= entry->fresh_until_ms) {
    entries_.erase(entry);
    index_.erase(found);
    return false;
  }
  entries_.splice(entries_.begin(), entries_, entry);
  *header = entry->header;
  return true;
}

void ExchangeCache::insert(const Digest& key, std::string header, int64_t fresh_until_ms) {
  std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    Entries::iterator entry = found->second;
    entry->header = std::move(header);
    entry->fresh_until_ms = fresh_until_ms;
    entries_.splice(entries_.begin(), entries_, entry);
    return;
  }
  while (entries_.size() >= capacity_) {
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
  entries_.push_front(Entry{key, std::move(header), fresh_until_ms});
  index_.emplace(key, entries_.begin());
}

size_t ExchangeCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace mag::credentials
