// A provider's key set published to worker threads through their
// ProviderViews: first fetch and unknown-kid refetch marshalled to the
// provider's loop and back, kid reuse, key sets that change on every fetch.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/core/event_loop.h"
#include "common/http/http_server.h"
#include "proxy/auth/provider_view.h"
#include "proxy/server/gateway.h"
#include "tests/unit/jwt_test_util.h"

using namespace mag;
using namespace std::chrono_literals;

namespace {

// Runs `base` until `done()` or ~10 s (generous: CI is a busy 2-core box).
bool run_until(event_base* base, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace
namespace {

// A JWKS endpoint on the provider's (main) loop whose key set the test swaps.
struct JwksEndpoint {
  struct Handler : http::ServerStreamHandler {
    Handler(http::ServerStream& s, JwksEndpoint& e) : stream(s), endpoint(e) {}
    void on_request_head(http::RequestHead&&, bool) override {
      // With `rotation`, each fetch gets the next document in turn.
      const std::string& body =
          endpoint.rotation.empty()
              ? endpoint.body
              : endpoint
                    .rotation[static_cast<size_t>(endpoint.requests) % endpoint.rotation.size()];
      ++endpoint.requests;
      http::ResponseHead head;
      head.status = 200;
      head.headers.add("Content-Type", "application/json");
      head.headers.add("Content-Length", std::to_string(body.size()));
      stream.send_head(std::move(head), false);
      stream.send_body(body, true);
    }
    void on_request_body(std::string_view, bool) override {}
    void on_reset() override {}
    http::ServerStream& stream;
    JwksEndpoint& endpoint;
  };
  explicit JwksEndpoint(event_base* base)
      : server(base, [this](http::ServerStream& s) -> std::unique_ptr<http::ServerStreamHandler> {
          return std::make_unique<Handler>(s, *this);
        }) {}
  std::string body;
  std::vector<std::string> rotation;
  int requests = 0;
  http::HttpServer server;
};

}  // namespace

TEST_CASE("workers: a provider's keys reach a worker thread; its waits are marshalled") {
  using namespace auth;
  using namespace auth::testing;
  EventBasePtr main_base = new_event_base();
  auto main_loop = std::make_shared<Mailbox>(main_base.get());
  JwksEndpoint endpoint(main_base.get());
  std::string error;
  REQUIRE(endpoint.server.listen("127.0.0.1:0", &error));
  const TestKey& key_a = rsa_key();
  const TestKey& key_b = other_rsa_key();
  endpoint.body = jwks_of({public_jwk(key_a, "a")});

  config::Provider config;
  config.name = "idp";
  config.issuer = "https://issuer.test";
  config.jwks_uri = "http://127.0.0.1:" + std::to_string(endpoint.server.port()) + "/jwks";
  auto provider = KeyProvider::create(main_base.get(), config);

  LoopThread worker;
  REQUIRE(worker.ok());
  worker.start();
  std::shared_ptr<ProviderView> view;
  worker.run_sync(
      [&] { view = std::make_shared<ProviderView>(provider, main_loop.get(), worker.mailbox()); });

  VerifyPolicy policy;
  policy.issuer = config.issuer;
  policy.audiences = {"api://svc"};
  policy.algorithms = {"RS256"};
  constexpr int64_t kNow = 1700000000;
  const std::string payload =
      R"({"iss":"https://issuer.test","aud":"api://svc","sub":"u1","iat":1699999990,"exp":1700000300})";
  const std::string token_a = signed_token(key_a, "RS256", R"({"alg":"RS256","kid":"a"})", payload);
  const std::string token_b = signed_token(key_b, "RS256", R"({"alg":"RS256","kid":"b"})", payload);

  // First fetch: the worker's request waits; the answer runs on the worker.
  provider->start();
  std::atomic<bool> first_done{false};
  std::thread::id done_on;
  std::unique_ptr<KeyWait> wait;
  worker.run_sync([&] {
    wait = view->wait_for_first_keys([&] {
      done_on = std::this_thread::get_id();
      first_done = true;
    });
  });
  REQUIRE(wait);
  REQUIRE(run_until(main_base.get(), [&] { return first_done.load(); }));
  std::thread::id worker_id;
  worker.run_sync([&] { worker_id = std::this_thread::get_id(); });
  CHECK(done_on == worker_id);
  worker.run_sync([&] { wait.reset(); });

  Reason reason = Reason::kMalformed;
  size_t cached = 0;
  worker.run_sync([&] {
    reason = view->verify(token_a, policy, kNow).reason;
    reason = view->verify(token_a, policy, kNow).reason;  // a hit
    cached = view->cache().size();
  });
  CHECK(reason == Reason::kOk);
  CHECK(cached == 1);

  // Rotation: B replaces A at the endpoint. The worker sees an unknown kid
  // and asks the provider's loop for one refetch.
  endpoint.body = jwks_of({public_jwk(key_b, "b")});
  std::atomic<bool> refetched{false};
  worker.run_sync([&] {
    reason = view->verify(token_b, policy, kNow).reason;
    wait = view->refresh_for_unknown_kid([&] { refetched = true; });
  });
  CHECK(reason == Reason::kUnknownKid);
  REQUIRE(wait);
  REQUIRE(run_until(main_base.get(), [&] { return refetched.load(); }));
  CHECK(endpoint.requests == 2);
  Reason reason_a = Reason::kOk;
  std::unique_ptr<KeyWait> again;
  worker.run_sync([&] {
    wait.reset();
    reason = view->verify(token_b, policy, kNow).reason;
    // A's cached entry went with A's key: no stale hit.
    reason_a = view->verify(token_a, policy, kNow).reason;
    cached = view->cache().size();
    // A second unknown kid within the interval is refused on the worker.
    again = view->refresh_for_unknown_kid([] {});
  });
  CHECK(reason == Reason::kOk);
  CHECK(reason_a == Reason::kUnknownKid);
  CHECK(cached == 1);
  CHECK_FALSE(again);

  // A cancelled wait never calls back: destroyed on the worker before the
  // provider's loop answers.
  std::atomic<bool> cancelled_called{false};
  auto provider2 = KeyProvider::create(main_base.get(), config);
  std::shared_ptr<ProviderView> view2;
  provider2->start();
  worker.run_sync([&] {
    view2 = std::make_shared<ProviderView>(provider2, main_loop.get(), worker.mailbox());
    auto cancelled = view2->wait_for_first_keys([&] { cancelled_called = true; });
    CHECK(cancelled);
  });  // `cancelled` destroyed here, on the worker
  REQUIRE(run_until(main_base.get(), [&] { return provider2->keys() != nullptr; }));
  worker.run_sync([] {});  // lets the worker run what the main loop posted
  worker.run_sync([] {});
  CHECK_FALSE(cancelled_called);

  worker.run_sync([&] {
    view.reset();
    view2.reset();
  });
  worker.stop();
}

namespace {

// A provider on the test's main loop fetching from a JwksEndpoint, and a
// view of it on a worker thread (REL-JWKS-13/14). The two key sets reuse
// kid "k" for two different RSA keys; token(key) is signed by one of them.
struct FlipFixture {
  FlipFixture() : main_base(new_event_base()), endpoint(main_base.get()) {
    main_loop = std::make_shared<Mailbox>(main_base.get());
    std::string error;
    REQUIRE(endpoint.server.listen("127.0.0.1:0", &error));
    config.name = "idp";
    config.issuer = "https://issuer.test";
    config.jwks_uri = "http://127.0.0.1:" + std::to_string(endpoint.server.port()) + "/jwks";
    policy.issuer = config.issuer;
    policy.audiences = {"api://svc"};
    policy.algorithms = {"RS256"};
    REQUIRE(worker.ok());
    worker.start();
  }
  ~FlipFixture() {
    worker.run_sync([&] { view.reset(); });
    worker.stop();
  }
  // Creates the provider and its view, starts it and waits for its first keys.
  void start() {
    provider = auth::KeyProvider::create(main_base.get(), config);
    worker.run_sync([&] {
      view = std::make_shared<auth::ProviderView>(provider, main_loop.get(), worker.mailbox());
    });
    provider->start();
    REQUIRE(run_until(main_base.get(), [&] { return provider->keys() != nullptr; }));
  }
  static std::string token(const auth::testing::TestKey& key) {
    return auth::testing::signed_token(
        key, "RS256", R"({"alg":"RS256","kid":"k"})",
        R"({"iss":"https://issuer.test","aud":"api://svc","sub":"u1","iat":1699999990,"exp":1700000300})");
  }
  static constexpr int64_t kNow = 1700000000;
  const std::string set_a =
      auth::testing::jwks_of({auth::testing::public_jwk(auth::testing::rsa_key(), "k")});
  const std::string set_b =
      auth::testing::jwks_of({auth::testing::public_jwk(auth::testing::other_rsa_key(), "k")});

  EventBasePtr main_base;
  std::shared_ptr<Mailbox> main_loop;
  JwksEndpoint endpoint;
  config::Provider config;
  auth::VerifyPolicy policy;
  LoopThread worker;
  std::shared_ptr<auth::KeyProvider> provider;
  std::shared_ptr<auth::ProviderView> view;
};

std::string fingerprint_of(const std::string& jwks) {
  auto parsed = auth::parse_jwks(jwks);
  REQUIRE(parsed.keys);
  return parsed.keys->keys().at(0).fingerprint;
}

}  // namespace

// REL-JWKS-13 (unit level; under load: tests/integration/jwks_hostile.test.mjs).
TEST_CASE("workers: kid reuse replaces the key material; the old key's cached tokens go") {
  using namespace auth;
  using namespace auth::testing;
  FlipFixture f;
  f.endpoint.body = f.set_a;
  f.start();
  const std::string old_token = FlipFixture::token(rsa_key());
  const std::string new_token = FlipFixture::token(other_rsa_key());

  Reason old_reason = Reason::kMalformed, new_reason = Reason::kMalformed;
  size_t cached = 0, negative = 0;
  f.worker.run_sync([&] {
    old_reason = f.view->verify(old_token, f.policy, FlipFixture::kNow).reason;
    old_reason = f.view->verify(old_token, f.policy, FlipFixture::kNow).reason;  // a hit
    new_reason = f.view->verify(new_token, f.policy, FlipFixture::kNow).reason;
    cached = f.view->cache().size();
    negative = f.view->cache().negative_size();
  });
  CHECK(old_reason == Reason::kOk);
  CHECK(new_reason == Reason::kBadSignature);  // same kid, other material: no refetch
  CHECK(cached == 1);
  CHECK(negative == 1);

  // The endpoint now has new material under the same kid; a refresh installs it.
  f.endpoint.body = f.set_b;
  std::atomic<bool> refetched{false};
  std::unique_ptr<KeyWait> wait;
  f.worker.run_sync([&] { wait = f.view->refresh_for_unknown_kid([&] { refetched = true; }); });
  REQUIRE(wait);
  REQUIRE(run_until(f.main_base.get(), [&] { return refetched.load(); }));
  REQUIRE(f.provider->keys()->keys().size() == 1);
  CHECK(f.provider->keys()->keys()[0].kid == "k");
  CHECK(f.provider->keys()->keys()[0].fingerprint == fingerprint_of(f.set_b));
  f.worker.run_sync([&] {
    wait.reset();
    // Not a stale hit of the cached entry, and not the stale "bad" entry.
    old_reason = f.view->verify(old_token, f.policy, FlipFixture::kNow).reason;
    new_reason = f.view->verify(new_token, f.policy, FlipFixture::kNow).reason;
    cached = f.view->cache().size();
  });
  CHECK(old_reason == Reason::kBadSignature);
  CHECK(new_reason == Reason::kOk);
  CHECK(cached == 1);
}

// REL-JWKS-14 (unit level, ~100 flips while a worker verifies; also a TSan target).
TEST_CASE("workers: a key set flipping on every fetch; each verification matches one set") {
  using namespace auth;
  using namespace auth::testing;
  FlipFixture f;
  const std::string fp_a = fingerprint_of(f.set_a);
  // Every fetch answers the other set, and the next fetch starts at once
  // (a 0 s refresh interval, below the config minimum: tests only).
  f.endpoint.rotation = {f.set_a, f.set_b};
  f.config.jwks_refresh = std::chrono::seconds(0);
  f.start();
  const std::string tokens[2] = {FlipFixture::token(rsa_key()),
                                 FlipFixture::token(other_rsa_key())};

  // The worker verifies both tokens in a loop while the main loop keeps
  // installing new sets. When the set did not change around a verification,
  // its result must be the one that set gives (kid "k" = key A or key B).
  std::atomic<bool> stop{false};
  std::atomic<bool> stopped{false};
  int checked = 0, inconsistent = 0, accepted[2] = {0, 0}, sets_seen = 0;
  f.worker.mailbox()->post([&] {
    std::shared_ptr<const KeySet> last;
    for (int i = 0; !stop.load(); ++i) {
      const int which = i % 2;
      auto before = f.view->keys();
      const bool ok = f.view->verify(tokens[which], f.policy, FlipFixture::kNow).ok();
      auto after = f.view->keys();
      if (before != last) ++sets_seen;
      last = before;
      if (ok) ++accepted[which];
      if (before != after) continue;  // changed meanwhile: either answer is fine
      ++checked;
      const bool holds_a = before->keys().at(0).fingerprint == fp_a;
      if (ok != (which == 0 ? holds_a : !holds_a)) ++inconsistent;
    }
    stopped = true;
  });
  REQUIRE(run_until(f.main_base.get(), [&] { return f.endpoint.requests >= 100; }));
  stop = true;
  REQUIRE(run_until(f.main_base.get(), [&] { return stopped.load(); }));
  MESSAGE("fetches: ", f.endpoint.requests, ", sets seen by the worker: ", sets_seen,
          ", checked verifications: ", checked);
  CHECK(inconsistent == 0);
  CHECK(checked > 0);
  CHECK(sets_seen > 2);
  CHECK(accepted[0] > 0);
  CHECK(accepted[1] > 0);
  // The cache holds at most the current set's token (plus the other's bad entry).
  size_t cached = 0;
  f.worker.run_sync([&] { cached = f.view->cache().size(); });
  CHECK(cached <= 1);
}
