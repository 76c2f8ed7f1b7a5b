#include <doctest/doctest.h>

#include "proxy/token_cache.h"

using namespace mag::auth;

namespace {
Claims claims_until(int64_t exp, const std::string& sub = "u1") {
  Claims c;
  c.subject = sub;
  c.expires_at = exp;
  return c;
}
}  // namespace

TEST_CASE("token_cache: keys hash the token and the context, never store the token") {
  const std::string k1 = TokenCache::cache_key("tok", "aud-a\n");
  CHECK(k1.size() == 64);
  CHECK(k1.find("tok") == std::string::npos);
  CHECK(k1 != TokenCache::cache_key("tok", "aud-b\n"));
  CHECK(k1 != TokenCache::cache_key("tok2", "aud-a\n"));
  CHECK(k1 == TokenCache::cache_key("tok", "aud-a\n"));
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
