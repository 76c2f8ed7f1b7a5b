// ExchangeCache: the bounded LRU of exchanged tokens and refusals by
// subject-token digest.
#include <doctest/doctest.h>

#include <string>

#include "proxy/credentials/exchange_cache.h"

using mag::credentials::ExchangeCache;
using Found = ExchangeCache::Found;

TEST_CASE("ExchangeCache: digest is SHA-256 of the subject token") {
  const ExchangeCache::Digest abc = ExchangeCache::digest("abc");
  // FIPS 180-2 test vector for "abc".
  CHECK(abc[0] == 0xba);
  CHECK(abc[1] == 0x78);
  CHECK(abc[31] == 0xad);
  CHECK(ExchangeCache::digest("abd") != abc);
}

TEST_CASE("ExchangeCache: an entry is served until its fresh_until, then dropped") {
  ExchangeCache cache(4);
  const auto key = ExchangeCache::digest("subject");
  cache.insert(key, "Bearer x", 1000);
  std::string header;
  REQUIRE(cache.find(key, 999, &header) == Found::kToken);
  CHECK(header == "Bearer x");
  CHECK(cache.find(key, 1000, &header) == Found::kNone);
  CHECK(cache.size() == 0);
}

TEST_CASE("ExchangeCache: bounded; the least recently used entry goes first") {
  ExchangeCache cache(3);
  const auto a = ExchangeCache::digest("a");
  const auto b = ExchangeCache::digest("b");
  const auto c = ExchangeCache::digest("c");
  const auto d = ExchangeCache::digest("d");
  cache.insert(a, "A", 10'000);
  cache.insert(b, "B", 10'000);
  cache.insert(c, "C", 10'000);
  std::string header;
  REQUIRE(cache.find(a, 0, &header) ==
          Found::kToken);  // a becomes the most recently used: b is now the oldest
  cache.insert(d, "D", 10'000);
  CHECK(cache.size() == 3);
  CHECK(cache.find(b, 0, &header) == Found::kNone);
  CHECK(cache.find(a, 0, &header) == Found::kToken);
  CHECK(cache.find(c, 0, &header) == Found::kToken);
  CHECK(cache.find(d, 0, &header) == Found::kToken);
  CHECK(header == "D");
}

TEST_CASE("ExchangeCache: inserting a key again replaces its entry") {
  ExchangeCache cache(2);
  const auto a = ExchangeCache::digest("a");
  cache.insert(a, "old", 10);
  cache.insert(a, "new", 20);
  CHECK(cache.size() == 1);
  std::string header;
  REQUIRE(cache.find(a, 15, &header) == Found::kToken);
  CHECK(header == "new");
}

TEST_CASE("ExchangeCache: a capacity of 0 still keeps one entry") {
  ExchangeCache cache(0);
  CHECK(cache.capacity() == 1);
  cache.insert(ExchangeCache::digest("a"), "A", 10);
  cache.insert(ExchangeCache::digest("b"), "B", 10);
  CHECK(cache.size() == 1);
}

TEST_CASE("ExchangeCache: a refusal is kept with its reason, replaces and is replaced by a token") {
  ExchangeCache cache(2);
  const auto a = ExchangeCache::digest("a");
  cache.insert_refusal(a, "invalid_grant", 100);
  std::string value;
  REQUIRE(cache.find(a, 99, &value) == Found::kRefusal);
  CHECK(value == "invalid_grant");
  CHECK(cache.find(a, 100, &value) == Found::kNone);  // expired: dropped
  CHECK(cache.size() == 0);
  cache.insert_refusal(a, "invalid_target", 100);
  cache.insert(a, "Bearer t", 200);
  REQUIRE(cache.find(a, 150, &value) == Found::kToken);
  CHECK(value == "Bearer t");
  CHECK(cache.size() == 1);
  // Refusals share the bound with tokens.
  cache.insert_refusal(ExchangeCache::digest("b"), "invalid_grant", 100);
  cache.insert_refusal(ExchangeCache::digest("c"), "invalid_grant", 100);
  CHECK(cache.size() == 2);
  CHECK(cache.find(a, 0, &value) == Found::kNone);
}
