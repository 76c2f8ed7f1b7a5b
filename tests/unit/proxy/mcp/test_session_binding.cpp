#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/mcp/session_binding.h"

using mag::proxy::principal_key;
using mag::proxy::SessionBindings;
using Check = SessionBindings::Check;
using namespace std::chrono_literals;

TEST_CASE("session_binding: the first principal owns the session; others mismatch") {
  SessionBindings table(10, 60s);
  const auto t0 = SessionBindings::Clock::time_point{} + 1000s;
  const std::string alice = principal_key("https://idp", "alice", "c1");
  const std::string bob = principal_key("https://idp", "bob", "c1");
  CHECK(table.check("/mcp\ns1", alice, t0) == Check::kUnbound);
  table.bind("/mcp\ns1", alice, t0);
  CHECK(table.check("/mcp\ns1", alice, t0) == Check::kMatch);
  CHECK(table.check("/mcp\ns1", bob, t0) == Check::kMismatch);
  table.bind("/mcp\ns1", bob, t0);  // a later bind never steals
  CHECK(table.check("/mcp\ns1", alice, t0) == Check::kMatch);
  // Same subject, other client: another principal.
  CHECK(table.check("/mcp\ns1", principal_key("https://idp", "alice", "c2"), t0) ==
        Check::kMismatch);
  table.forget("/mcp\ns1");
  CHECK(table.check("/mcp\ns1", bob, t0) == Check::kUnbound);
}

TEST_CASE("session_binding: principal keys cannot collide by shifting separators") {
  CHECK(principal_key("a", "b;c", "") != principal_key("a;b", "c", ""));
  CHECK(principal_key("a", "bc", "") != principal_key("ab", "c", ""));
}

TEST_CASE("session_binding: idle bindings expire; use refreshes them") {
  SessionBindings table(10, 60s);
  const auto t0 = SessionBindings::Clock::time_point{} + 1000s;
  table.bind("s1", "p", t0);
  table.bind("s2", "p", t0);
  CHECK(table.check("s1", "p", t0 + 50s) == Check::kMatch);
  CHECK(table.check("s1", "p", t0 + 100s) == Check::kMatch);  // refreshed at +50
  CHECK(table.check("s2", "p", t0 + 100s) == Check::kUnbound);
  CHECK(table.size() == 1);
}

TEST_CASE("session_binding: bounded; the least recently used binding goes first") {
  SessionBindings table(3, 3600s);
  const auto t = SessionBindings::Clock::time_point{} + 1000s;
  table.bind("a", "p", t);
  table.bind("b", "p", t);
  table.bind("c", "p", t);
  CHECK(table.check("a", "p", t) == Check::kMatch);  // a is now the most recent
  table.bind("d", "p", t);
  CHECK(table.size() == 3);
  CHECK(table.check("b", "p", t) == Check::kUnbound);
  CHECK(table.check("a", "p", t) == Check::kMatch);
  CHECK(table.check("d", "p", t) == Check::kMatch);
  for (int i = 0; i < 1000; ++i) table.bind("x" + std::to_string(i), "p", t);
  CHECK(table.size() == 3);
  table.set_limits(1, 3600s);
  CHECK(table.size() == 1);
}

using namespace mag;

TEST_CASE("workers: session bindings stay consistent under concurrent use") {
  proxy::SessionBindings table(500, 3600s);
  const auto t0 = proxy::SessionBindings::Clock::now();
  constexpr int kThreads = 4;
  std::atomic<int> stolen{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string me = proxy::principal_key("https://idp", "user" + std::to_string(i), "c");
      for (int n = 0; n < 3000; ++n) {
        // Sessions of their own, plus one contested session every thread tries.
        const std::string own = "own-" + std::to_string(i) + "-" + std::to_string(n % 200);
        table.bind(own, me, t0);
        if (table.check(own, me, t0) == proxy::SessionBindings::Check::kMismatch) ++stolen;
        table.bind("contested", me, t0);
        if (n % 50 == 0) table.forget(own);
      }
    });
  }
  for (auto& t : threads) t.join();
  // Nobody else ever owned a thread's own sessions, and the bound held.
  CHECK(stolen == 0);
  CHECK(table.size() <= 500);
  // Exactly one thread owns the contested session: the others mismatch.
  int matches = 0;
  for (int i = 0; i < kThreads; ++i) {
    const std::string p = proxy::principal_key("https://idp", "user" + std::to_string(i), "c");
    if (table.check("contested", p, t0) == proxy::SessionBindings::Check::kMatch) ++matches;
  }
  CHECK(matches == 1);
}
