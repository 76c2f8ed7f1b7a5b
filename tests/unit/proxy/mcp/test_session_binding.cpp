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
using mag::proxy::session_key;
using mag::proxy::SessionBindings;
using Check = SessionBindings::Check;
using namespace std::chrono_literals;

namespace {

const auto kT0 = SessionBindings::Clock::time_point{} + 1000s;

SessionBindings::Limits limits(size_t total, size_t per_principal, std::chrono::seconds idle) {
  return SessionBindings::Limits{total, per_principal, idle};
}

}  // namespace

TEST_CASE("session_binding: the first principal owns the session; others mismatch") {
  SessionBindings table(limits(10, 10, 60s));
  const std::string alice = principal_key("https://idp", "alice", "c1");
  const std::string bob = principal_key("https://idp", "bob", "c1");
  CHECK(table.check("e\ns1", alice, kT0) == Check::kUnbound);
  table.bind("e\ns1", alice, kT0);
  CHECK(table.check("e\ns1", alice, kT0) == Check::kMatch);
  CHECK(table.check("e\ns1", bob, kT0) == Check::kMismatch);
  table.bind("e\ns1", bob, kT0);  // a later bind never steals
  CHECK(table.check("e\ns1", alice, kT0) == Check::kMatch);
  // Same subject, other client: another principal.
  CHECK(table.check("e\ns1", principal_key("https://idp", "alice", "c2"), kT0) == Check::kMismatch);
  table.forget("e\ns1", kT0);
  CHECK(table.check("e\ns1", bob, kT0) == Check::kUnbound);
  CHECK(table.count(alice) == 0);
}

TEST_CASE("session_binding: principal keys cannot collide by shifting separators") {
  CHECK(principal_key("a", "b;c", "") != principal_key("a;b", "c", ""));
  CHECK(principal_key("a", "bc", "") != principal_key("ab", "c", ""));
}

TEST_CASE("session_binding: a session is named by the server that minted it") {
  // Any route or upstream name that reaches 127.0.0.1:9000 names it the same.
  CHECK(session_key("127.0.0.1", 9000, "s1") == "http://127.0.0.1:9000\ns1");
  CHECK(session_key("Backend.Example", 80, "s1") == session_key("backend.example", 80, "s1"));
  CHECK(session_key("::1", 9000, "s1") == "http://[::1]:9000\ns1");
  CHECK(session_key("127.0.0.1", 9000, "s1") != session_key("127.0.0.1", 9001, "s1"));
  CHECK(session_key("127.0.0.1", 9000, "s1") != session_key("127.0.0.2", 9000, "s1"));
  // The id cannot pose as part of the endpoint: the endpoint part has no '\n'.
  CHECK(session_key("a", 1, "x") != session_key("a", 1, "\nx"));
}

TEST_CASE("session_binding: several candidate keys: any mismatch refuses, any match passes") {
  SessionBindings table(limits(10, 10, 60s));
  const std::vector<std::string> keys = {"e1\ns", "e2\ns", "e3\ns"};
  CHECK(table.check(keys, "alice", kT0) == Check::kUnbound);
  table.bind("e2\ns", "alice", kT0);
  CHECK(table.check(keys, "alice", kT0) == Check::kMatch);
  CHECK(table.check(keys, "bob", kT0) == Check::kMismatch);
  // The same id under another endpoint, bound to someone else: refused for both.
  table.bind("e3\ns", "bob", kT0);
  CHECK(table.check(keys, "alice", kT0) == Check::kMismatch);
  CHECK(table.check(keys, "bob", kT0) == Check::kMismatch);
  CHECK(table.check(std::vector<std::string>{"e1\ns"}, "bob", kT0) == Check::kUnbound);
}

TEST_CASE("session_binding: idle bindings expire; use refreshes them") {
  SessionBindings table(limits(10, 10, 60s));
  table.bind("s1", "p", kT0);
  table.bind("s2", "p", kT0);
  CHECK(table.check("s1", "p", kT0 + 50s) == Check::kMatch);
  CHECK(table.check("s1", "p", kT0 + 100s) == Check::kMatch);  // refreshed at +50
  CHECK(table.check("s2", "p", kT0 + 100s) == Check::kUnbound);
  CHECK(table.size() == 1);
  CHECK(table.count("p") == 1);
  CHECK(table.check("s1", "p", kT0 + 200s) == Check::kUnbound);
  CHECK(table.count("p") == 0);
}

TEST_CASE("session_binding: one principal over its cap loses its own oldest binding only") {
  SessionBindings table(limits(100, 3, 3600s));
  table.bind("bob-1", "bob", kT0);
  for (int i = 0; i < 3; ++i) table.bind("alice-" + std::to_string(i), "alice", kT0);
  CHECK(table.check("alice-0", "alice", kT0) == Check::kMatch);  // now alice's most recent
  for (int i = 3; i < 40; ++i) table.bind("alice-" + std::to_string(i), "alice", kT0);
  CHECK(table.count("alice") == 3);
  CHECK(table.count("bob") == 1);
  CHECK(table.size() == 4);
  CHECK(table.check("bob-1", "bob", kT0) == Check::kMatch);
  CHECK(table.check("alice-39", "alice", kT0) == Check::kMatch);
  CHECK(table.check("alice-38", "alice", kT0) == Check::kMatch);
  CHECK(table.check("alice-37", "alice", kT0) == Check::kMatch);
  CHECK(table.check("alice-0", "alice", kT0) == Check::kUnbound);
}

TEST_CASE("session_binding: at the table bound the principal holding the most pays") {
  SessionBindings table(limits(6, 100, 3600s));
  table.bind("bob-1", "bob", kT0);  // the least recently used binding of all
  table.bind("carol-1", "carol", kT0);
  for (int i = 0; i < 4; ++i) table.bind("alice-" + std::to_string(i), "alice", kT0);
  CHECK(table.size() == 6);
  // A newcomer at the bound: alice holds the most, her oldest goes (not bob's).
  table.bind("dave-1", "dave", kT0);
  CHECK(table.size() == 6);
  CHECK(table.check("bob-1", "bob", kT0) == Check::kMatch);
  CHECK(table.check("alice-0", "alice", kT0) == Check::kUnbound);
  CHECK(table.count("alice") == 3);
  // Alice opening more only ever evicts her own.
  for (int i = 4; i < 50; ++i) table.bind("alice-" + std::to_string(i), "alice", kT0);
  CHECK(table.size() == 6);
  CHECK(table.count("alice") == 3);
  CHECK(table.check("bob-1", "bob", kT0) == Check::kMatch);
  CHECK(table.check("carol-1", "carol", kT0) == Check::kMatch);
  CHECK(table.check("dave-1", "dave", kT0) == Check::kMatch);
}

TEST_CASE("session_binding: bounded; shrinking the limits evicts as bind would") {
  SessionBindings table(limits(3, 3, 3600s));
  table.bind("a", "p", kT0);
  table.bind("b", "p", kT0);
  table.bind("c", "p", kT0);
  CHECK(table.check("a", "p", kT0) == Check::kMatch);  // a is now the most recent
  table.bind("d", "p", kT0);
  CHECK(table.size() == 3);
  CHECK(table.check("b", "p", kT0) == Check::kUnbound);
  CHECK(table.check("a", "p", kT0) == Check::kMatch);
  CHECK(table.check("d", "p", kT0) == Check::kMatch);
  for (int i = 0; i < 1000; ++i) table.bind("x" + std::to_string(i), "p", kT0);
  CHECK(table.size() == 3);

  SessionBindings shrink(limits(100, 100, 3600s));
  for (int i = 0; i < 10; ++i) shrink.bind("p" + std::to_string(i), "p", kT0);
  for (int i = 0; i < 4; ++i) shrink.bind("q" + std::to_string(i), "q", kT0);
  shrink.set_limits(limits(100, 5, 3600s), kT0);
  CHECK(shrink.count("p") == 5);
  CHECK(shrink.count("q") == 4);
  shrink.set_limits(limits(6, 5, 3600s), kT0);
  CHECK(shrink.size() == 6);
  CHECK(shrink.count("p") + shrink.count("q") == 6);
  CHECK(shrink.count("q") >= 3);  // the larger holder paid first
  shrink.set_limits(limits(1, 1, 3600s), kT0);
  CHECK(shrink.size() == 1);
}

using namespace mag;

TEST_CASE("workers: session bindings stay consistent under concurrent use") {
  proxy::SessionBindings table({500, 500, 3600s});
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
        if (n % 50 == 0) table.forget(own, t0);
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
