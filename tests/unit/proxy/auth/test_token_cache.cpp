#include <doctest/doctest.h>

#include "proxy/auth/token_cache.h"

#include <algorithm>
#include <unordered_set>

using namespace mag::auth;

namespace {
Claims claims_until(int64_t exp, const std::string& sub = "u1") {
  Claims c;
  c.subject = sub;
  c.expires_at = exp;
  return c;
}
}  // namespace

TEST_CASE("token_cache: keys are the token and the context; a hit needs the same bytes") {
  const std::string k1 = TokenCache::cache_key("tok", "aud-a\n");
  CHECK(k1 == "tok\naud-a\n");
  CHECK(k1 != TokenCache::cache_key("tok", "aud-b\n"));
  CHECK(k1 != TokenCache::cache_key("tok2", "aud-a\n"));
  CHECK(k1 == TokenCache::cache_key("tok", "aud-a\n"));
  TokenCache cache;
  cache.insert(k1, claims_until(1000), "fp", 0, 0);
  CHECK(cache.find(k1, 1));
  CHECK_FALSE(cache.find(TokenCache::cache_key("tok", "aud-b\n"), 1));
  CHECK_FALSE(cache.find(TokenCache::cache_key("tol", "aud-a\n"), 1));
  CHECK_FALSE(cache.find("tok\naud-a", 1));  // a prefix of the key
  // The index holds views of the entries: replacing and expiring an entry
  // must leave it consistent (ASan would see a dangling view).
  cache.insert(k1, claims_until(1000, "u2"), "fp", 0, 2);
  CHECK(cache.size() == 1);
  REQUIRE(cache.find(k1, 3));
  CHECK(cache.find(k1, 3)->subject == "u2");
  CHECK_FALSE(cache.find(k1, 1000));
  CHECK(cache.size() == 0);
  cache.insert(k1, claims_until(2000), "fp", 0, 1000);
  CHECK(cache.find(k1, 1001));
}

TEST_CASE("token_cache: a hit returns the claims until exp + skew, never after") {
  TokenCache cache;
  cache.insert("k", claims_until(1000), "fp", 60, 900);
  auto hit = cache.find("k", 950);
  REQUIRE(hit);
  CHECK(hit->subject == "u1");
  CHECK(cache.find("k", 1059));
  CHECK_FALSE(cache.find("k", 1060));  // rejected from exp + skew on, like the verifier
  CHECK(cache.size() == 0);            // and dropped
}

TEST_CASE("token_cache: lifetime is bounded by max_ttl, also without exp") {
  TokenCache cache(TokenCacheLimits{.max_ttl_seconds = 100});
  cache.insert("far", claims_until(1'000'000), "fp", 0, 0);
  cache.insert("none", claims_until(0), "fp", 0, 0);
  CHECK(cache.find("far", 99));
  CHECK(cache.find("none", 99));
  CHECK_FALSE(cache.find("far", 100));
  CHECK_FALSE(cache.find("none", 100));
}

TEST_CASE("token_cache: already expired claims are not inserted") {
  TokenCache cache;
  cache.insert("k", claims_until(100), "fp", 0, 100);
  CHECK(cache.size() == 0);
}

TEST_CASE("token_cache: LRU bound evicts the least recently used entry") {
  TokenCache cache(TokenCacheLimits{.max_entries = 2});
  cache.insert("a", claims_until(1000), "fp", 0, 0);
  cache.insert("b", claims_until(1000), "fp", 0, 0);
  CHECK(cache.find("a", 1));  // a is now the most recent
  cache.insert("c", claims_until(1000), "fp", 0, 0);
  CHECK(cache.size() == 2);
  CHECK(cache.find("a", 1));
  CHECK_FALSE(cache.find("b", 1));
  CHECK(cache.find("c", 1));
}

TEST_CASE("token_cache: entries leave with their signing key") {
  TokenCache cache;
  cache.insert("by-old", claims_until(1000), "old-key", 0, 0);
  cache.insert("by-new", claims_until(1000), "new-key", 0, 0);
  cache.insert_bad("forged", 0);
  cache.retain_keys({"new-key"});
  CHECK_FALSE(cache.find("by-old", 1));
  CHECK(cache.find("by-new", 1));
  // A new key set may make a "bad" signature good: the negative cache is cleared.
  CHECK_FALSE(cache.known_bad("forged", 1));
}

TEST_CASE("token_cache: negative entries are short-lived and bounded") {
  TokenCache cache(TokenCacheLimits{.max_negative_entries = 2, .negative_ttl_seconds = 30});
  cache.insert_bad("x", 0);
  CHECK(cache.known_bad("x", 29));
  CHECK_FALSE(cache.known_bad("x", 30));
  cache.insert_bad("a", 0);
  cache.insert_bad("b", 0);
  cache.insert_bad("c", 0);
  CHECK(cache.negative_size() == 2);
  CHECK_FALSE(cache.known_bad("a", 1));
  CHECK(cache.known_bad("c", 1));
  // Positive and negative sides are independent.
  CHECK_FALSE(cache.find("c", 1));
}

TEST_CASE("token_cache: a flood of distinct tokens stays within max_entries (REL-RES-01)") {
  TokenCache cache(TokenCacheLimits{.max_entries = 100});
  size_t evicted = 0;
  // "hot" is used between every insert: it must survive 50 000 evictions.
  cache.insert("hot", claims_until(1'000'000), "fp", 0, 0);
  for (int i = 0; i < 50'000; ++i) {
    evicted += cache.insert("t" + std::to_string(i), claims_until(1'000'000), "fp", 0, 0);
    CHECK(cache.find("hot", 1));
    REQUIRE(cache.size() <= 100);
  }
  CHECK(cache.size() == 100);
  CHECK(evicted == 50'001 - 100);  // every insert beyond the limit evicts exactly one
  CHECK(cache.find("hot", 1));
  CHECK(cache.find("t49999", 1));  // the 99 most recent flood tokens are still there
  CHECK(cache.find("t49901", 1));
  CHECK_FALSE(cache.find("t49900", 1));  // older ones are gone
  CHECK_FALSE(cache.find("t0", 1));
  // Re-inserting a present key replaces it without evicting anything.
  CHECK(cache.insert("hot", claims_until(1'000'000, "u2"), "fp", 0, 1) == 0);
  CHECK(cache.find("hot", 1)->subject == "u2");
}

TEST_CASE("token_cache: max_entries 0 caches nothing") {
  TokenCache cache(TokenCacheLimits{.max_entries = 0});
  CHECK(cache.insert("a", claims_until(1000), "fp", 0, 0) == 0);
  CHECK(cache.size() == 0);
  CHECK_FALSE(cache.find("a", 1));
}

TEST_CASE("token_cache: negative entries remember their reason") {
  TokenCache cache;
  cache.insert_bad("forged", 0);
  cache.insert_bad("old", 0, Reason::kExpired);
  cache.insert_bad("elsewhere", 0, Reason::kWrongAudience);
  CHECK(cache.known_bad("forged", 1) == Reason::kBadSignature);
  CHECK(cache.known_bad("old", 1) == Reason::kExpired);
  CHECK(cache.known_bad("elsewhere", 1) == Reason::kWrongAudience);
  CHECK_FALSE(cache.known_bad("unseen", 1).has_value());
}

TEST_CASE("token_cache: the same keys fetched again keep the negative entries") {
  TokenCache cache;
  cache.retain_keys({"k1", "k2"});
  cache.insert_bad("forged", 0);
  cache.retain_keys({"k1", "k2"});  // an unknown-kid refetch that found nothing new
  CHECK(cache.known_bad("forged", 1));
  cache.retain_keys({"k1"});  // a key left: a bad signature is still bad
  CHECK(cache.known_bad("forged", 1));
  cache.retain_keys({"k1", "k3"});  // a new key might verify it
  CHECK_FALSE(cache.known_bad("forged", 1));
}

// The negative side's pre-filter (std::hash of the keys) follows
// every insertion, eviction and expiry: a key is found exactly while its
// entry exists.
TEST_CASE("token_cache: negative lookups stay exact through evictions and expiry") {
  TokenCache cache(TokenCacheLimits{.max_negative_entries = 10, .negative_ttl_seconds = 30});
  for (int i = 0; i < 1000; ++i) cache.insert_bad("bad-" + std::to_string(i), 0);
  CHECK(cache.negative_size() == 10);
  for (int i = 0; i < 1000; ++i) {
    const bool kept = i >= 990;
    if (cache.known_bad("bad-" + std::to_string(i), 1).has_value() != kept)
      FAIL("bad-" << i << " expected " << (kept ? "found" : "absent"));
  }
  // Expired on lookup, then remembered again.
  CHECK_FALSE(cache.known_bad("bad-995", 30));
  CHECK(cache.negative_size() == 9);
  cache.insert_bad("bad-995", 30, Reason::kExpired);
  CHECK(cache.known_bad("bad-995", 31) == Reason::kExpired);
  // A good token never refused is not negative, whatever else is.
  CHECK_FALSE(cache.known_bad("good", 31));
}

namespace {
// Largest bucket after inserting `count` values that are all multiples of
// the set's bucket count: what a sender choosing std::hash values can do.
template <typename Set>
size_t largest_bucket_of_flood(Set set, size_t count) {
  set.reserve(count);
  const size_t buckets = set.bucket_count();
  for (size_t i = 0; i < count; ++i) set.insert(i * buckets);
  REQUIRE(set.bucket_count() == buckets);
  size_t largest = 0;
  for (size_t b = 0; b < set.bucket_count(); ++b) largest = std::max(largest, set.bucket_size(b));
  return largest;
}
}  // namespace

TEST_CASE("token_cache: the negative pre-filter's buckets are keyed against hash flooding") {
  // Unkeyed (std::hash<size_t> is the identity in libstdc++), every value of
  // the flood shares one bucket: each lookup would walk all of them.
  CHECK(largest_bucket_of_flood(std::unordered_multiset<size_t>{}, 4096) == 4096);
  // Keyed, they spread like random values (expected largest bucket ~8).
  const TokenCache::KeyedMix mix{TokenCache::random_mix_key()};
  CHECK(largest_bucket_of_flood(std::unordered_multiset<size_t, TokenCache::KeyedMix>{0, mix},
                                4096) < 32);
  // The key decides the placement: another key, another bucket for the same value.
  CHECK(TokenCache::KeyedMix{1}(12345) != TokenCache::KeyedMix{2}(12345));
}
