// ExchangeCache: the bounded LRU of exchanged tokens by subject-token digest.
#include <doctest/doctest.h>

#include <string>

#include "proxy/credentials/exchange_cache.h"

using mag::credentials::ExchangeCache;

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
  REQUIRE(cache.find(key, 999, &header));
  CHECK(header == "Bearer x");
  CHECK_FALSE(cache.find(key, 1000, &header));
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
  REQUIRE(cache.find(a, 0, &header));  // a becomes the most recently used: b is now the oldest
  cache.insert(d, "D", 10'000);
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find(b, 0, &header));
  CHECK(cache.find(a, 0, &header));
  CHECK(cache.find(c, 0, &header));
  CHECK(cache.find(d, 0, &header));
  CHECK(header == "D");
}

TEST_CASE("ExchangeCache: inserting a key again replaces its entry") {
  ExchangeCache cache(2);
  const auto a = ExchangeCache::digest("a");
  cache.insert(a, "old", 10);
  cache.insert(a, "new", 20);
  CHECK(cache.size() == 1);
  std::string header;
  REQUIRE(cache.find(a, 15, &header));
  CHECK(header == "new");
}

TEST_CASE("ExchangeCache: a capacity of 0 still keeps one entry") {
  ExchangeCache cache(0);
  CHECK(cache.capacity() == 1);
  cache.insert(ExchangeCache::digest("a"), "A", 10);
  cache.insert(ExchangeCache::digest("b"), "B", 10);
  CHECK(cache.size() == 1);
}
