// Verified-token cache of one key provider on one worker thread (each worker
// has its own, through its ProviderView, so lookups take no lock). Positive
// entries: key = the token plus the verification context (route audiences),
// found through a fast non-cryptographic hash and then compared byte for
// byte, so a collision can never return another token's claims (a SHA-256 of
// the token would be the largest single cost of a hit); value = the claims,
// valid until exp (+ skew) but at most `max_ttl`, LRU-bounded. Each entry
// remembers the fingerprint of the key that verified it, so entries are
// dropped the moment that key leaves the JWKS. Negative entries: tokens
// refused after the signature check (bad signature, or a good one with an
// expired / wrong claim), with their reason, for a short time, so a flood of
// one such token costs one verification; they are keyed by SHA-256 of the key
// (computed on a positive miss only, and only when a pre-filter of std::hash
// values says the key may be there), because their tokens are chosen by
// whoever sends them: no hash-flooding of the negative side, and a forged
// token is not kept. The expiry is re-checked on every hit. Both sides are
// LRU-bounded: a flood of distinct tokens evicts, never grows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "proxy/auth/jwt_verifier.h"

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

  // token "\n" context (a bearer token has no line feed). Positive entries
  // keep it: a cached token stays in memory until it expires or is evicted.
  static std::string cache_key(std::string_view token, std::string_view context);

  // Claims of a token verified earlier, when still within its lifetime at `now`.
  std::optional<Claims> find(const std::string& key, int64_t now);
  // `claims.expires_at` 0 means "no exp": kept for max_ttl only. Returns how
  // many least recently used entries it evicted to stay within max_entries.
  // `key` is kept by the entry (moved in: no second copy of the token).
  size_t insert(std::string key, const Claims& claims, const std::string& key_fingerprint,
                int64_t clock_skew_seconds, int64_t now);

  // The reason a token was refused earlier (within negative_ttl), if it was.
  std::optional<Reason> known_bad(const std::string& key, int64_t now);
  void insert_bad(const std::string& key, int64_t now, Reason reason = Reason::kBadSignature);

  // The JWKS changed: drop positive entries whose key is not in `fingerprints`,
  // and, when it holds a key not seen before, every negative entry (a new key
  // may make a "bad" signature good).
  void retain_keys(const std::set<std::string>& fingerprints);

  size_t size() const { return positive_.size(); }
  size_t negative_size() const { return negative_.size(); }

  // The hasher of the negative side's pre-filter (public for its tests).
  struct KeyedMix {
    uint64_t key;
    size_t operator()(size_t hash) const noexcept;
  };
  static uint64_t random_mix_key();

 private:
  struct Entry {
    std::string key;
    Claims claims;
    std::string key_fingerprint;
    int64_t valid_until = 0;  // exclusive
  };
  struct BadEntry {
    std::string key;  // SHA-256 of the cache key
    int64_t valid_until = 0;
    Reason reason = Reason::kBadSignature;
    size_t hash = 0;  // std::hash of the cache key (negative_hashes_)
  };
  using Lru = std::list<Entry>;
  using BadLru = std::list<BadEntry>;

  TokenCacheLimits limits_;
  Lru lru_;  // most recently used first
  // Keys are views of Entry::key (list nodes do not move): erase the map
  // entry before its list node.
  std::unordered_map<std::string_view, Lru::iterator> positive_;
  BadLru bad_lru_;
  std::unordered_map<std::string, BadLru::iterator> negative_;
  // std::hash of the cache keys of the negative entries, a pre-filter: a
  // positive miss whose key's hash is not among them (nearly every miss of a
  // good token) skips the SHA-256 of the ~1 KB key. A match,
  // chosen by a sender or by chance, only costs the SHA-256 and the real
  // lookup; at most max_negative_entries values. Its buckets come from a
  // keyed mix of those values, the key drawn per cache: the negative side
  // holds tokens their sender chose (a bad signature is enough to get in),
  // and std::hash is unkeyed, so a sender could otherwise craft tokens that
  // all land in one bucket and make every lookup walk them all.
  std::unordered_multiset<size_t, KeyedMix> negative_hashes_{0, KeyedMix{random_mix_key()}};
  void forget_hash(size_t hash);
  std::set<std::string> key_fingerprints_;  // of the last retain_keys()
};

}  // namespace mag::auth
