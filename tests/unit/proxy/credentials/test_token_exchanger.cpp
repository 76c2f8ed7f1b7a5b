// TokenExchanger with an injected token endpoint: per subject token,
// single flight per key, capped at the subject token's exp, bounded,
// refusals remembered per subject token, unavailability held.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/credentials/token_exchanger.h"
#include "proxy/telemetry/metrics.h"
#include "tests/unit/proxy/credentials/fake_token_endpoint.h"

using namespace mag;
using credentials::ExchangeCache;
using credentials::TokenAnswer;
using credentials::TokenExchanger;
using credentials::TokenLookup;
using testing::FakeTokenEndpoint;

namespace {

config::TokenExchange exchange_config(size_t entries = 100) {
  config::TokenExchange config;
  config.client = testing::test_oauth_client();
  config.audience = "https://mcp.example";
  config.cache_entries = entries;
  return config;
}

struct Waiters {
  std::vector<TokenAnswer> answers;
  TokenExchanger::Done done() {
    return [this](const TokenAnswer& a) { answers.push_back(a); };
  }
};

double requests(const std::string& upstream, const std::string& outcome) {
  return metrics::global().value(
      "mag_upstream_token_requests_total",
      {{"upstream", upstream}, {"grant", "token_exchange"}, {"outcome", outcome}});
}

}  // namespace

TEST_CASE("TokenExchanger: one exchange per subject token, however many wait") {
  FakeTokenEndpoint as;
  TokenExchanger exchanger("tx-single", exchange_config(), as.function(), as.clock());
  const auto alice = ExchangeCache::digest("alice-token");
  const auto bob = ExchangeCache::digest("bob-token");
  Waiters waiters;
  for (int i = 0; i < 3; ++i) exchanger.obtain("alice-token", alice, 0, waiters.done());
  exchanger.obtain("bob-token", bob, 0, waiters.done());
  REQUIRE(as.calls.size() == 2);
  CHECK(exchanger.in_flight() == 2);
  CHECK(as.calls[0].request.body.find("subject_token=alice-token") != std::string::npos);
  CHECK(as.calls[1].request.body.find("subject_token=bob-token") != std::string::npos);

  as.answer(0, 200, FakeTokenEndpoint::token("alice-upstream", 600));
  REQUIRE(waiters.answers.size() == 3);
  for (const auto& a : waiters.answers) CHECK(a.header == "Bearer alice-upstream");
  as.answer(1, 200, FakeTokenEndpoint::token("bob-upstream", 600));
  REQUIRE(waiters.answers.size() == 4);
  CHECK(waiters.answers[3].header == "Bearer bob-upstream");
  CHECK(exchanger.in_flight() == 0);

  std::string header;
  TokenAnswer failure;
  REQUIRE(exchanger.lookup(alice, as.now_ms, &header, &failure) == TokenLookup::kHit);
  CHECK(header == "Bearer alice-upstream");
  REQUIRE(exchanger.lookup(bob, as.now_ms, &header, &failure) == TokenLookup::kHit);
  CHECK(header == "Bearer bob-upstream");
  // 600 s lifetime, 60 s margin.
  CHECK(exchanger.lookup(alice, as.now_ms + 540'000, &header, &failure) == TokenLookup::kMiss);
}

TEST_CASE("TokenExchanger: an exchanged token is never used beyond the subject token's exp") {
  FakeTokenEndpoint as;
  TokenExchanger exchanger("tx-cap", exchange_config(), as.function(), as.clock());
  const auto key = ExchangeCache::digest("short-lived");
  const int64_t subject_exp = as.now_ms / 1000 + 30;  // 30 s left; the issued token has 3600
  Waiters waiters;
  exchanger.obtain("short-lived", key, subject_exp, waiters.done());
  as.answer(0, 200, FakeTokenEndpoint::token("up", 3600));
  REQUIRE(waiters.answers.size() == 1);
  std::string header;
  TokenAnswer failure;
  CHECK(exchanger.lookup(key, subject_exp * 1000 - 1, &header, &failure) == TokenLookup::kHit);
  CHECK(exchanger.lookup(key, subject_exp * 1000, &header, &failure) == TokenLookup::kMiss);
}

TEST_CASE("TokenExchanger: the cache is bounded by cache_entries") {
  FakeTokenEndpoint as;
  TokenExchanger exchanger("tx-bound", exchange_config(2), as.function(), as.clock());
  Waiters waiters;
  for (int i = 0; i < 5; ++i) {
    const std::string subject = "subject-" + std::to_string(i);
    exchanger.obtain(subject, ExchangeCache::digest(subject), 0, waiters.done());
    as.answer(as.calls.size() - 1, 200, FakeTokenEndpoint::token("t" + std::to_string(i), 600));
  }
  CHECK(waiters.answers.size() == 5);
  CHECK(exchanger.cached() == 2);
  std::string header;
  TokenAnswer failure;
  CHECK(exchanger.lookup(ExchangeCache::digest("subject-4"), as.now_ms, &header, &failure) ==
        TokenLookup::kHit);
  CHECK(exchanger.lookup(ExchangeCache::digest("subject-0"), as.now_ms, &header, &failure) ==
        TokenLookup::kMiss);
}

TEST_CASE("TokenExchanger: a refusal is remembered for this caller alone, for kRefusalHold") {
  FakeTokenEndpoint as;
  TokenExchanger exchanger("tx-refused", exchange_config(), as.function(), as.clock());
  const auto key = ExchangeCache::digest("refused-subject");
  Waiters waiters;
  exchanger.obtain("refused-subject", key, 0, waiters.done());
  as.answer(0, 400,
            R"({"error":"invalid_grant","error_description":"token refused-subject expired"})");
  REQUIRE(waiters.answers.size() == 1);
  CHECK(waiters.answers[0].outcome == TokenAnswer::Outcome::kRefused);
  CHECK(waiters.answers[0].reason == "invalid_grant");
  const int64_t refused_at = as.now_ms;

  // Within the hold: ten more requests of this caller, no call to the AS.
  std::string header;
  TokenAnswer failure;
  for (int i = 0; i < 10; ++i) {
    as.now_ms = refused_at + i * (credentials::kRefusalHold.count() / 10);
    CHECK(exchanger.lookup(key, as.now_ms, &header, &failure) == TokenLookup::kFailed);
    CHECK(failure.outcome == TokenAnswer::Outcome::kRefused);
    CHECK(failure.reason == "invalid_grant");
    CHECK(failure.reason.find("refused-subject") == std::string::npos);
    exchanger.obtain("refused-subject", key, 0, waiters.done());
  }
  CHECK(as.calls.size() == 1);
  REQUIRE(waiters.answers.size() == 11);
  CHECK(waiters.answers.back().outcome == TokenAnswer::Outcome::kRefused);
  // Another caller is not affected.
  const auto other = ExchangeCache::digest("other");
  CHECK(exchanger.lookup(other, as.now_ms, &header, &failure) == TokenLookup::kMiss);

  // After the hold the AS is asked again (a 403 refusal is remembered alike).
  as.now_ms = refused_at + credentials::kRefusalHold.count();
  CHECK(exchanger.lookup(key, as.now_ms, &header, &failure) == TokenLookup::kMiss);
  exchanger.obtain("refused-subject", key, 0, waiters.done());
  REQUIRE(as.calls.size() == 2);
  const double refused_before = requests("tx-refused", "refused");
  as.answer(1, 400, R"({"error":"invalid_target"})");
  CHECK(requests("tx-refused", "refused") == refused_before + 1);
  CHECK(exchanger.lookup(key, as.now_ms + 1, &header, &failure) == TokenLookup::kFailed);
  CHECK(failure.reason == "invalid_target");
}

TEST_CASE("TokenExchanger: a refusal is never remembered beyond the subject token's exp") {
  FakeTokenEndpoint as;
  TokenExchanger exchanger("tx-refused-exp", exchange_config(), as.function(), as.clock());
  const auto key = ExchangeCache::digest("soon-expired");
  const int64_t subject_exp = as.now_ms / 1000 + 5;  // 5 s left, less than the hold
  Waiters waiters;
  exchanger.obtain("soon-expired", key, subject_exp, waiters.done());
  as.answer(0, 400, R"({"error":"invalid_grant"})");
  std::string header;
  TokenAnswer failure;
  CHECK(exchanger.lookup(key, subject_exp * 1000 - 1, &header, &failure) == TokenLookup::kFailed);
  CHECK(exchanger.lookup(key, subject_exp * 1000, &header, &failure) == TokenLookup::kMiss);
}

TEST_CASE("TokenExchanger: an unavailable AS is held for every caller") {
  FakeTokenEndpoint as;
  TokenExchanger exchanger("tx-down", exchange_config(), as.function(), as.clock());
  Waiters waiters;
  exchanger.obtain("a", ExchangeCache::digest("a"), 0, waiters.done());
  as.fail(0, http::FetchError::kTimeout);
  REQUIRE(waiters.answers.size() == 1);
  CHECK(waiters.answers[0].outcome == TokenAnswer::Outcome::kUnavailable);
  std::string header;
  TokenAnswer failure;
  CHECK(exchanger.lookup(ExchangeCache::digest("b"), as.now_ms + 10, &header, &failure) ==
        TokenLookup::kFailed);
  exchanger.obtain("b", ExchangeCache::digest("b"), 0, waiters.done());
  CHECK(waiters.answers.size() == 2);
  CHECK(as.calls.size() == 1);
  as.now_ms += credentials::kFailureHold.count();
  exchanger.obtain("b", ExchangeCache::digest("b"), 0, waiters.done());
  CHECK(as.calls.size() == 2);
}

TEST_CASE("TokenExchanger: a waiter is dropped uncalled when the exchanger goes first") {
  FakeTokenEndpoint as;
  Waiters waiters;
  {
    TokenExchanger exchanger("tx-gone", exchange_config(), as.function(), as.clock());
    exchanger.obtain("a", ExchangeCache::digest("a"), 0, waiters.done());
    REQUIRE(as.calls.size() == 1);
  }
  CHECK(waiters.answers.empty());
}

TEST_CASE("TokenExchanger: at most kMaxFlights exchanges at once; a caller beyond is told busy") {
  FakeTokenEndpoint as;
  TokenExchanger exchanger("tx-flights", exchange_config(), as.function(), as.clock());
  Waiters waiters;
  for (size_t i = 0; i < TokenExchanger::kMaxFlights; ++i) {
    const std::string subject = "subject-" + std::to_string(i);
    exchanger.obtain(subject, ExchangeCache::digest(subject), 0, waiters.done());
  }
  REQUIRE(as.calls.size() == TokenExchanger::kMaxFlights);
  CHECK(waiters.answers.empty());

  // A new caller: answered at once, nothing sent to the AS.
  exchanger.obtain("one-too-many", ExchangeCache::digest("one-too-many"), 0, waiters.done());
  REQUIRE(waiters.answers.size() == 1);
  CHECK(waiters.answers[0].outcome == TokenAnswer::Outcome::kUnavailable);
  CHECK(waiters.answers[0].reason == "busy");
  CHECK(as.calls.size() == TokenExchanger::kMaxFlights);
  CHECK(exchanger.in_flight() == TokenExchanger::kMaxFlights);

  // A caller whose exchange is already running still joins it.
  exchanger.obtain("subject-0", ExchangeCache::digest("subject-0"), 0, waiters.done());
  CHECK(waiters.answers.size() == 1);
  as.answer(0, 200, FakeTokenEndpoint::token("first", 600));
  REQUIRE(waiters.answers.size() == 3);
  CHECK(waiters.answers[1].header == "Bearer first");
  CHECK(waiters.answers[2].header == "Bearer first");

  // One flight over: a new caller gets its exchange.
  exchanger.obtain("late", ExchangeCache::digest("late"), 0, waiters.done());
  CHECK(as.calls.size() == TokenExchanger::kMaxFlights + 1);
}
