#include "proxy/token_cache.h"

#include <algorithm>

#include "proxy/jws_signature.h"

namespace mag::auth {

std::string TokenCache::cache_key(std::string_view token, std::string_view context) {
  return sha256(token) + sha256(context);
}

std::optional<Claims> TokenCache::find(const std::string& key, int64_t now) {
  auto it = positive_.find(key);
  if (it == positive_.end()) return std::nullopt;
  if (now >= it->second->valid_until) {
    // Expired: the caller re-verifies and reports "expired" itself.
    lru_.erase(it->second);
    positive_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->claims;
}

void TokenCache::insert(const std::string& key, const Claims& claims,
                        const std::string& key_fingerprint, int64_t clock_skew_seconds,
                        int64_t now) {
  if (limits_.max_entries == 0) return;
  int64_t valid_until = now + limits_.max_ttl_seconds;
  // Same rule as the verifier: rejected from exp + skew on. Both terms are
  // bounded (exp <= 2^53, skew <= 600), so no overflow.
  if (claims.expires_at != 0)
    valid_until = std::min(valid_until, claims.expires_at + clock_skew_seconds);
  if (valid_until <= now) return;
  if (auto it = positive_.find(key); it != positive_.end()) {
    lru_.erase(it->second);
    positive_.erase(it);
  }
  lru_.push_front(Entry{key, claims, key_fingerprint, valid_until});
  positive_.emplace(key, lru_.begin());
  while (positive_.size() > limits_.max_entries) {
    positive_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

bool TokenCache::known_bad(const std::string& key, int64_t now) {
  auto it = negative_.find(key);
  if (it == negative_.end()) return false;
  if (now >= it->second->valid_until) {
    bad_lru_.erase(it->second);
    negative_.erase(it);
    return false;
  }
  return true;
}

void TokenCache::insert_bad(const std::string& key, int64_t now) {
  if (limits_.max_negative_entries == 0 || negative_.count(key)) return;
  bad_lru_.push_front(BadEntry{key, now + limits_.negative_ttl_seconds});
  negative_.emplace(key, bad_lru_.begin());
  while (negative_.size() > limits_.max_negative_entries) {
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
  negative_.clear();
  bad_lru_.clear();
}

}  // namespace mag::auth
