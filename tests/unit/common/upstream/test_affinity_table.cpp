#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/upstream/affinity_table.h"

using namespace std::chrono_literals;
using mag::http::AffinityTable;

namespace {

const auto t0 = AffinityTable::Clock::time_point{} + 1000s;

}  // namespace

TEST_CASE("affinity_table: bind, find, rebind, forget") {
  AffinityTable table(10, 60s);
  CHECK_FALSE(table.find("s1", t0));
  table.bind("s1", 2, t0);
  REQUIRE(table.find("s1", t0));
  CHECK(*table.find("s1", t0) == 2);
  table.bind("s1", 0, t0);  // the newest endpoint wins (a re-initialized session id)
  CHECK(*table.find("s1", t0) == 0);
  table.forget("s1");
  CHECK_FALSE(table.find("s1", t0));
  CHECK(table.size() == 0);
}

TEST_CASE("affinity_table: bounded; the least recently used entry goes first") {
  AffinityTable table(3, 3600s);
  table.bind("a", 0, t0);
  table.bind("b", 1, t0 + 1s);
  table.bind("c", 0, t0 + 2s);
  CHECK(table.find("a", t0 + 3s));  // a is now the most recent; b the oldest
  table.bind("d", 1, t0 + 4s);
  CHECK(table.size() == 3);
  CHECK_FALSE(table.find("b", t0 + 5s));
  CHECK(table.find("a", t0 + 5s));
  CHECK(table.find("c", t0 + 5s));
  CHECK(table.find("d", t0 + 5s));
  table.set_limits(1, 3600s);  // shrinking evicts down to the new bound
  CHECK(table.size() == 1);
  CHECK(table.find("d", t0 + 6s));  // the most recently used one stays
}

TEST_CASE("affinity_table: idle entries expire; a lookup refreshes") {
  AffinityTable table(10, 60s);
  table.bind("s1", 1, t0);
  table.bind("s2", 1, t0);
  CHECK(table.find("s1", t0 + 50s));
  CHECK(table.find("s1", t0 + 100s));  // 50 s since its last use
  CHECK_FALSE(table.find("s2", t0 + 100s));
  CHECK_FALSE(table.find("s1", t0 + 161s));
  CHECK(table.size() == 0);
}

TEST_CASE("affinity_table: concurrent use from several threads stays consistent") {
  AffinityTable table(64, 3600s);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i % 32);
        const auto now = AffinityTable::Clock::now();
        table.bind(key, static_cast<size_t>(t), now);
        auto found = table.find(key, now);
        // Another thread may have evicted it, never re-bound it elsewhere.
        if (found && *found != static_cast<size_t>(t)) ++wrong;
        if (i % 7 == 0) table.forget(key);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
  CHECK(table.size() <= 64);
}
