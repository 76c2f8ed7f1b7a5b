// TokenView: a worker's miss goes to the main loop and the answer comes
// back on the worker's loop; destroying the TokenWait (the client went
// away) drops the answer; hits and misses are counted.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

#include "common/core/event_loop.h"
#include "proxy/credentials/token_view.h"
#include "proxy/telemetry/metrics.h"
#include "tests/unit/proxy/credentials/fake_token_endpoint.h"

using namespace mag;
using credentials::TokenAnswer;
using credentials::TokenLookup;
using testing::FakeTokenEndpoint;

namespace {

config::ClientCredentials cc_config() {
  config::ClientCredentials config;
  config.client = testing::test_oauth_client();
  return config;
}

config::TokenExchange tx_config() {
  config::TokenExchange config;
  config.client = testing::test_oauth_client();
  config.audience = "https://mcp.example";
  return config;
}

// The main loop and a worker's, both on one base: the test's thread is both.
struct Loops {
  Loops() : base(new_event_base()), main(base.get()), own(std::make_shared<Mailbox>(base.get())) {}
  void run() {
    for (int i = 0; i < 4; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  }
  EventBasePtr base;
  Mailbox main;
  std::shared_ptr<Mailbox> own;
};

double cache_count(const std::string& upstream, const std::string& result) {
  return metrics::global().value("mag_upstream_token_cache_total",
                                 {{"upstream", upstream}, {"result", result}});
}

// The view's first lookup for `subject` (a miss) and its obtain() through
// the loops, the AS answering `status` / `body`: the answer delivered.
TokenAnswer first_answer(Loops& loops, FakeTokenEndpoint& as, credentials::TokenView& view,
                         const std::string& subject, int status, const std::string& body) {
  std::string header;
  TokenAnswer failure;
  REQUIRE(view.lookup(subject, as.now_ms, &header, &failure) == TokenLookup::kMiss);
  std::optional<TokenAnswer> got;
  auto wait = view.obtain(subject, 0, [&](const TokenAnswer& a) { got = a; });
  loops.run();
  REQUIRE(as.calls.size() == 1);
  as.answer(0, status, body);
  loops.run();
  REQUIRE(got);
  return *got;
}

}  // namespace

TEST_CASE("TokenView: a miss is answered through the main loop, then hits") {
  Loops loops;
  FakeTokenEndpoint as;
  auto source = std::make_shared<credentials::ClientCredentialsSource>("view-cc", cc_config(),
                                                                       as.function(), as.clock());
  credentials::TokenView view(source, nullptr, &loops.main, loops.own);
  CHECK_FALSE(view.needs_subject_token());
  CHECK(view.grant() == "client_credentials");

  std::string header;
  TokenAnswer failure;
  const double misses = cache_count("view-cc", "miss");
  REQUIRE(view.lookup("", as.now_ms, &header, &failure) == TokenLookup::kMiss);
  CHECK(cache_count("view-cc", "miss") == misses + 1);
  std::optional<TokenAnswer> got;
  auto wait = view.obtain("", 0, [&](const TokenAnswer& a) { got = a; });
  loops.run();
  REQUIRE(as.calls.size() == 1);
  as.answer(0, 200, FakeTokenEndpoint::token("view-token", 600));
  CHECK_FALSE(got);  // the answer travels through the worker's mailbox
  loops.run();
  REQUIRE(got);
  CHECK(got->header == "Bearer view-token");

  const double hits = cache_count("view-cc", "hit");
  REQUIRE(view.lookup("", as.now_ms, &header, &failure) == TokenLookup::kHit);
  CHECK(header == "Bearer view-token");
  CHECK(cache_count("view-cc", "hit") == hits + 1);
}

TEST_CASE("TokenView: a cancelled wait is never called back") {
  Loops loops;
  FakeTokenEndpoint as;
  auto exchanger = std::make_shared<credentials::TokenExchanger>("view-tx", tx_config(),
                                                                 as.function(), as.clock());
  credentials::TokenView view(nullptr, exchanger, &loops.main, loops.own);
  CHECK(view.needs_subject_token());
  std::string header;
  TokenAnswer failure;
  REQUIRE(view.lookup("caller-token", as.now_ms, &header, &failure) == TokenLookup::kMiss);
  bool called = false;
  auto wait = view.obtain("caller-token", 0, [&](const TokenAnswer&) { called = true; });
  loops.run();
  REQUIRE(as.calls.size() == 1);
  CHECK(as.calls[0].request.body.find("subject_token=caller-token") != std::string::npos);
  wait.reset();  // the client went away
  as.answer(0, 200, FakeTokenEndpoint::token("exchanged", 600));
  loops.run();
  CHECK_FALSE(called);
  // The exchanged token is cached all the same, for the caller's next request.
  REQUIRE(view.lookup("caller-token", as.now_ms, &header, &failure) == TokenLookup::kHit);
  CHECK(header == "Bearer exchanged");
}

TEST_CASE("TokenView: a source released before the main loop runs answers unavailable") {
  Loops loops;
  FakeTokenEndpoint as;
  std::optional<TokenAnswer> got;
  std::unique_ptr<credentials::TokenWait> wait;
  {
    auto source = std::make_shared<credentials::ClientCredentialsSource>("view-gone", cc_config(),
                                                                         as.function(), as.clock());
    credentials::TokenView view(source, nullptr, &loops.main, loops.own);
    std::string header;
    TokenAnswer failure;
    REQUIRE(view.lookup("", as.now_ms, &header, &failure) == TokenLookup::kMiss);
    wait = view.obtain("", 0, [&](const TokenAnswer& a) { got = a; });
  }
  loops.run();
  REQUIRE(got);
  CHECK(got->outcome == TokenAnswer::Outcome::kUnavailable);
  CHECK(as.calls.empty());
}

TEST_CASE("TokenView: a remembered refusal is a negative_hit, answered without the AS") {
  Loops loops;
  FakeTokenEndpoint as;
  auto exchanger = std::make_shared<credentials::TokenExchanger>("view-tx-refused", tx_config(),
                                                                 as.function(), as.clock());
  credentials::TokenView view(nullptr, exchanger, &loops.main, loops.own);
  const TokenAnswer first =
      first_answer(loops, as, view, "refused-caller", 403, R"({"error":"invalid_target"})");
  CHECK(first.outcome == TokenAnswer::Outcome::kRefused);
  std::string header;
  TokenAnswer failure;

  const double negative = cache_count("view-tx-refused", "negative_hit");
  const double misses = cache_count("view-tx-refused", "miss");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(view.lookup("refused-caller", as.now_ms, &header, &failure) == TokenLookup::kFailed);
    CHECK(failure.outcome == TokenAnswer::Outcome::kRefused);
    CHECK(failure.reason == "invalid_target");
  }
  CHECK(cache_count("view-tx-refused", "negative_hit") == negative + 5);
  CHECK(cache_count("view-tx-refused", "miss") == misses);
  CHECK(as.calls.size() == 1);
}

TEST_CASE("TokenView: a hit past 75 % of the token's life refreshes it on the main loop") {
  Loops loops;
  FakeTokenEndpoint as;
  auto source = std::make_shared<credentials::ClientCredentialsSource>("view-ahead", cc_config(),
                                                                       as.function(), as.clock());
  credentials::TokenView view(source, nullptr, &loops.main, loops.own);
  const TokenAnswer first =
      first_answer(loops, as, view, "", 200, FakeTokenEndpoint::token("first", 100));
  CHECK(first.header == "Bearer first");
  std::string header;
  TokenAnswer failure;

  as.now_ms += 75'000;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(view.lookup("", as.now_ms, &header, &failure) == TokenLookup::kHit);
    CHECK(header == "Bearer first");
  }
  loops.run();
  REQUIRE(as.calls.size() == 2);  // one refresh for the three hits
  as.answer(1, 200, FakeTokenEndpoint::token("second", 100));
  REQUIRE(view.lookup("", as.now_ms, &header, &failure) == TokenLookup::kHit);
  CHECK(header == "Bearer second");
}
