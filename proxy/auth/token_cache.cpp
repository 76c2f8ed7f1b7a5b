#include "proxy/auth/token_cache.h"

#include <algorithm>

#include "common/core/random_mix.h"
#include "proxy/auth/jws_signature.h"

namespace mag::auth {

std::string TokenCache::cache_key(std::string_view token, std::string_view context) {
  std::string key;
  key.reserve(token.size() + 1 + context.size());
  key.append(token).append(1, '\n').append(context);
  return key;
}

std::optional<Claims> TokenCache::find(const std::string& key, int64_t now) {
  auto it = positive_.find(key);
  if (it == positive_.end()) return std::nullopt;
  if (now >= it->second->valid_until) {
    // Expired: the caller re-verifies and reports "expired" itself.
    const auto entry = it->second;
    positive_.erase(it);  // before the node its key points into
    lru_.erase(entry);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->claims;
}

size_t TokenCache::insert(std::string key, const Claims& claims, const std::string& key_fingerprint,
                          int64_t clock_skew_seconds, int64_t now) {
  if (limits_.max_entries == 0) return 0;
  int64_t valid_until = now + limits_.max_ttl_seconds;
  // Same rule as the verifier: rejected from exp + skew on. Both terms are
  // bounded (exp <= 2^53, skew <= 600), so no overflow.
  if (claims.expires_at != 0)
    valid_until = std::min(valid_until, claims.expires_at + clock_skew_seconds);
  if (valid_until <= now) return 0;
  if (auto it = positive_.find(key); it != positive_.end()) {
    const auto entry = it->second;
    positive_.erase(it);  // before the node its key points into
    lru_.erase(entry);
  }
  lru_.push_front(Entry{std::move(key), claims, key_fingerprint, valid_until});
  positive_.emplace(lru_.front().key, lru_.begin());
  size_t evicted = 0;
  for (; positive_.size() > limits_.max_entries; ++evicted) {
    positive_.erase(lru_.back().key);
    lru_.pop_back();
  }
  return evicted;
}

std::optional<Reason> TokenCache::known_bad(const std::string& key, int64_t now) {
  if (!negative_hashes_.contains(std::hash<std::string_view>{}(key))) return std::nullopt;
  auto it = negative_.find(sha256(key));
  if (it == negative_.end()) return std::nullopt;
  if (now >= it->second->valid_until) {
    forget_hash(it->second->hash);
    bad_lru_.erase(it->second);
    negative_.erase(it);
    return std::nullopt;
  }
  return it->second->reason;
}

void TokenCache::insert_bad(const std::string& cache_key, int64_t now, Reason reason) {
  const std::string key = sha256(cache_key);
  if (limits_.max_negative_entries == 0 || negative_.count(key)) return;
  const size_t hash = std::hash<std::string_view>{}(cache_key);
  bad_lru_.push_front(BadEntry{key, now + limits_.negative_ttl_seconds, reason, hash});
  negative_.emplace(key, bad_lru_.begin());
  negative_hashes_.insert(hash);
  while (negative_.size() > limits_.max_negative_entries) {
    forget_hash(bad_lru_.back().hash);
    negative_.erase(bad_lru_.back().key);
    bad_lru_.pop_back();
  }
}

void TokenCache::retain_keys(const std::set<std::string>& fingerprints) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (fingerprints.count(it->key_fingerprint)) {
      ++it;
      continue;
    }
    positive_.erase(it->key);
    it = lru_.erase(it);
  }
  // Only a key that was not there before can make a "bad" signature good. A
  // refetch that brings the same keys (unknown-kid refetches, refreshes)
  // keeps the negative entries, so it does not reopen a forged-token flood.
  const bool new_key =
      std::any_of(fingerprints.begin(), fingerprints.end(),
                  [this](const std::string& f) { return key_fingerprints_.count(f) == 0; });
  key_fingerprints_ = fingerprints;
  if (!new_key) return;
  negative_.clear();
  bad_lru_.clear();
  negative_hashes_.clear();
}

uint64_t TokenCache::random_mix_key() {
  return random_u64(reinterpret_cast<uintptr_t>(&random_mix_key));
}

size_t TokenCache::KeyedMix::operator()(size_t hash) const noexcept {
  // Every output bit depends on every bit of the key and of the hash.
  return static_cast<size_t>(mix64((static_cast<uint64_t>(hash) ^ key) + 0x9e3779b97f4a7c15ULL));
}

void TokenCache::forget_hash(size_t hash) {
  // One instance only: two negative keys may share a hash.
  if (auto it = negative_hashes_.find(hash); it != negative_hashes_.end())
    negative_hashes_.erase(it);
}

}  // namespace mag::auth
