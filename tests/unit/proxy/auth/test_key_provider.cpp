// KeyProvider's first fetch as a worker thread sees it. A worker
// decides "wait for the first keys" or "proceed" from two atomics, keys()
// and fetching() (ProviderView::wait_for_first_keys, then the
// authenticator's keys() re-read). While the first keys are on their way,
// no worker may ever read "no keys and no fetch in progress": that request
// would be refused with 401 although the keys arrive a moment later. So
// fetching() stays true until the keys are installed (or the fetch failed),
// also between the discovery steps; a slow parse (the ASan build) widens any
// such window enough for this test to see it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/core/event_loop.h"
#include "proxy/auth/jwks.h"
#include "proxy/auth/key_provider.h"
#include "proxy/config/config.h"
#include "tests/unit/jwt_test_util.h"
#include "tests/unit/raw_test_server.h"

using namespace mag;
using mag::testing::RawConn;
using mag::testing::RawRequest;
using mag::testing::RawServer;

namespace {

void reply(RawConn& conn, int status, const std::string& body) {
  conn.write("HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Not Found") +
             "\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  conn.close_after_write();
}

// Starts `config`'s provider and polls it from another thread, the way a
// worker does, until its first keys are installed. Returns how many polls
// saw the refusing state; `polls` says how many polls there were at all.
int refusing_polls(event_base* base, const config::Provider& config, long* polls) {
  auto provider = auth::KeyProvider::create(base, config);
  provider->start();
  REQUIRE(provider->fetching());
  std::atomic<bool> stop{false};
  std::atomic<int> refusing{0};
  std::atomic<long> count{0};
  std::thread worker([&] {
    while (!stop.load()) {
      // ProviderView::wait_for_first_keys proceeds on (keys || !fetching);
      // the authenticator then reads keys() again and refuses on null.
      if (!provider->keys() && !provider->fetching() && !provider->keys()) ++refusing;
      ++count;
    }
  });
  const bool installed = mag::testing::run_until(
      base, [&] { return provider->keys() != nullptr && !provider->fetching(); },
      std::chrono::seconds(20));
  stop = true;
  worker.join();
  REQUIRE(installed);
  CHECK(provider->keys()->keys().size() == auth::kMaxJwksKeys);
  *polls += count.load();
  return refusing.load();
}

}  // namespace

TEST_CASE("key provider: until the first keys, a worker never sees no keys and no fetch") {
  using namespace auth::testing;
  EventBasePtr base = new_event_base();
  RawServer server(base.get());
  const std::string origin = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string issuer = origin + "/tenant";
  // The most keys a set may have: parsing them takes a while, which is the
  // moment the old code published "not fetching" with no keys yet.
  std::vector<std::string> keys;
  for (size_t i = 0; i < auth::kMaxJwksKeys; ++i)
    keys.push_back(public_jwk(rsa_key(), "k" + std::to_string(i)));
  const std::string jwks = jwks_of(keys);
  server.on_request = [&](RawConn& conn, const RawRequest& request) {
    if (request.head.path == "/jwks") return reply(conn, 200, jwks);
    // RFC 8414 path-inserted metadata; the OpenID Connect URL (tried
    // first) is a 404, so discovery takes two steps before the JWKS.
    if (request.head.path == "/.well-known/oauth-authorization-server/tenant")
      return reply(conn, 200,
                   R"({"issuer":")" + issuer + R"(","jwks_uri":")" + origin + R"(/jwks"})");
    reply(conn, 404, R"({"error":"not_found"})");
  };

  config::Provider configured;
  configured.name = "configured";
  configured.issuer = issuer;
  configured.jwks_uri = origin + "/jwks";
  config::Provider discovered;
  discovered.name = "discovered";
  discovered.issuer = issuer;

  // A few rounds each: the poller needs to be on a CPU during the window.
  int refusing = 0;
  long polls = 0;
  for (int round = 0; round < 3; ++round) {
    refusing += refusing_polls(base.get(), configured, &polls);
    refusing += refusing_polls(base.get(), discovered, &polls);
  }
  MESSAGE("polls: " << polls);
  CHECK(polls > 0);
  CHECK(refusing == 0);
  // Every discovery went through both documents.
  size_t oidc = 0;
  for (size_t i = 0; i < server.accepted(); ++i)
    for (const auto& r : server.conn(i).requests())
      if (r.head.path == "/tenant/.well-known/openid-configuration") ++oidc;
  CHECK(oidc == 3);
}
