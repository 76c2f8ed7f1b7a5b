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

ExchangeCache::Found ExchangeCache::find(const Digest& key, int64_t now_ms, std::string* value) {
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return Found::kNone;
  Entries::iterator entry = found->second;
  if (now_ms >= entry->fresh_until_ms) {
    entries_.erase(entry);
    index_.erase(found);
    return Found::kNone;
  }
  entries_.splice(entries_.begin(), entries_, entry);
  *value = entry->value;
  return entry->refusal ? Found::kRefusal : Found::kToken;
}

void ExchangeCache::insert(const Digest& key, std::string header, int64_t fresh_until_ms) {
  put(Entry{key, std::move(header), fresh_until_ms, false});
}

void ExchangeCache::insert_refusal(const Digest& key, std::string reason, int64_t until_ms) {
  put(Entry{key, std::move(reason), until_ms, true});
}

void ExchangeCache::put(Entry entry) {
  std::lock_guard lock(mutex_);
  if (auto found = index_.find(entry.key); found != index_.end()) {
    Entries::iterator existing = found->second;
    *existing = std::move(entry);
    entries_.splice(entries_.begin(), entries_, existing);
    return;
  }
  while (entries_.size() >= capacity_) {
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
  entries_.push_front(std::move(entry));
  index_.emplace(entries_.front().key, entries_.begin());
}

size_t ExchangeCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace mag::credentials
