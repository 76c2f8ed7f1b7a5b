// Verified-token cache of one key provider (and so of one gateway snapshot;
// the gateway is single-threaded). Positive entries: key = SHA-256 of the
// token plus the verification context (route audiences), value = the claims,
// valid until exp (+ skew) but at most `max_ttl`, LRU-bounded. Each entry
// remembers the fingerprint of the key that verified it, so entries are
// dropped the moment that key leaves the JWKS. Negative entries: tokens whose
// signature was bad, for a short time, so a flood of one forged token costs
// one verification. The expiry is re-checked on every hit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/jwt_verifier.h"

namespace mag::auth {

struct TokenCacheLimits {
  size_t max_entries = 10000;
  size_t max_negative_entries = 1000;
  int64_t max_ttl_seconds = 3600;
  int64_t negative_ttl_seconds = 30;
};

class TokenCache {
 public:
  explicit TokenCache(TokenCacheLimits limits = {}) : limits_(limits) {}

  // SHA-256(token) || SHA-256(context): the token itself is never stored.
  static std::string cache_key(std::string_view token, std::string_view context);

  // Claims of a token verified earlier, when still within its lifetime at `now`.
  std::optional<Claims> find(const std::string& key, int64_t now);
  // `claims.expires_at` 0 means "no exp": kept for max_ttl only.
  void insert(const std::string& key, const Claims& claims, const std::string& key_fingerprint,
              int64_t clock_skew_seconds, int64_t now);

  bool known_bad(const std::string& key, int64_t now);
  void insert_bad(const std::string& key, int64_t now);

  // The JWKS changed: drop positive entries whose key is not in `fingerprints`,
  // and every negative entry (a new key may make a "bad" signature good).
  void retain_keys(const std::set<std::string>& fingerprints);

  size_t size() const { return positive_.size(); }
  size_t negative_size() const { return negative_.size(); }

 private:
  struct Entry {
    std::string key;
    Claims claims;
    std::string key_fingerprint;
    int64_t valid_until = 0;  // exclusive
  };
  struct BadEntry {
    std::string key;
    int64_t valid_until = 0;
  };
  using Lru = std::list<Entry>;
  using BadLru = std::list<BadEntry>;

  TokenCacheLimits limits_;
  Lru lru_;  // most recently used first
  std::unordered_map<std::string, Lru::iterator> positive_;
  BadLru bad_lru_;
  std::unordered_map<std::string, BadLru::iterator> negative_;
};

}  // namespace mag::auth
