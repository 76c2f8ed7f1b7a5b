// ClientCredentialsSource with an injected token endpoint: one request for
// every waiter, a token used until its margin, failures remembered for
// kFailureHold, the endpoint discovered from the issuer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/credentials/client_credentials_source.h"
#include "proxy/telemetry/metrics.h"
#include "tests/unit/proxy/credentials/fake_token_endpoint.h"

using namespace mag;
using credentials::ClientCredentialsSource;
using credentials::TokenAnswer;
using credentials::TokenLookup;
using testing::FakeTokenEndpoint;

namespace {

config::ClientCredentials client_config() {
  config::ClientCredentials config;
  config.client = testing::test_oauth_client();
  config.scopes = {"tools"};
  return config;
}

double requests(const std::string& upstream, const std::string& outcome) {
  return metrics::global().value(
      "mag_upstream_token_requests_total",
      {{"upstream", upstream}, {"grant", "client_credentials"}, {"outcome", outcome}});
}

}  // namespace

TEST_CASE("ClientCredentialsSource: single flight, then the cached token until its margin") {
  FakeTokenEndpoint as;
  ClientCredentialsSource source("cc-single", client_config(), as.function(), as.clock());
  std::string header;
  TokenAnswer failure;
  CHECK(source.lookup(as.now_ms, &header, &failure) == TokenLookup::kMiss);

  std::vector<TokenAnswer> answers;
  for (int i = 0; i < 5; ++i) source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 1);  // five waiters, one request
  CHECK(as.calls[0].request.method == "POST");
  CHECK(as.calls[0].request.url == "https://as.example/token");
  CHECK(as.calls[0].request.body.find("grant_type=client_credentials") != std::string::npos);
  CHECK(answers.empty());

  const double issued_before = requests("cc-single", "issued");
  as.answer(0, 200, FakeTokenEndpoint::token("tok-1", 100));
  REQUIRE(answers.size() == 5);
  for (const auto& a : answers) {
    CHECK(a.outcome == TokenAnswer::Outcome::kIssued);
    CHECK(a.header == "Bearer tok-1");
  }
  CHECK(requests("cc-single", "issued") == issued_before + 1);

  // 100 s lifetime, 10 s margin: fresh for 90 s.
  CHECK(source.lookup(as.now_ms + 89'999, &header, &failure) == TokenLookup::kHit);
  CHECK(header == "Bearer tok-1");
  CHECK(source.lookup(as.now_ms + 90'000, &header, &failure) == TokenLookup::kMiss);

  // A waiter that arrives while the token is fresh is answered at once.
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  CHECK(answers.size() == 6);
  CHECK(as.calls.size() == 1);

  // Past the margin: a new request.
  as.now_ms += 90'000;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 2);
  as.answer(1, 200, R"({"access_token":"tok-2","token_type":"Bearer"})");
  CHECK(answers.back().header == "Bearer tok-2");
  // No expires_in: the default lifetime (300 s, 30 s margin).
  CHECK(source.lookup(as.now_ms + 269'999, &header, &failure) == TokenLookup::kHit);
  CHECK(source.lookup(as.now_ms + 270'000, &header, &failure) == TokenLookup::kMiss);
}

TEST_CASE("ClientCredentialsSource: a failure is remembered for the hold, then retried") {
  FakeTokenEndpoint as;
  ClientCredentialsSource source("cc-backoff", client_config(), as.function(), as.clock());
  std::vector<TokenAnswer> answers;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 1);
  const double before = requests("cc-backoff", "unavailable");
  as.fail(0, http::FetchError::kConnect);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].outcome == TokenAnswer::Outcome::kUnavailable);
  CHECK(requests("cc-backoff", "unavailable") == before + 1);

  std::string header;
  TokenAnswer failure;
  CHECK(source.lookup(as.now_ms + 1, &header, &failure) == TokenLookup::kFailed);
  CHECK(failure.outcome == TokenAnswer::Outcome::kUnavailable);
  // During the hold nobody asks the AS.
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  CHECK(answers.size() == 2);
  CHECK(as.calls.size() == 1);

  as.now_ms += credentials::kFailureHold.count();
  CHECK(source.lookup(as.now_ms, &header, &failure) == TokenLookup::kMiss);
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 2);
  as.answer(1, 200, FakeTokenEndpoint::token("tok", 60));
  CHECK(answers.back().outcome == TokenAnswer::Outcome::kIssued);
}

TEST_CASE("ClientCredentialsSource: invalid_client is client_rejected, 5xx unavailable") {
  FakeTokenEndpoint as;
  ClientCredentialsSource source("cc-reject", client_config(), as.function(), as.clock());
  std::vector<TokenAnswer> answers;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  as.answer(0, 401, R"({"error":"invalid_client","error_description":"secret abc is wrong"})");
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].outcome == TokenAnswer::Outcome::kClientRejected);
  // The AS's text is not kept.
  CHECK(answers[0].reason.find("abc") == std::string::npos);

  as.now_ms += credentials::kFailureHold.count();
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 2);
  as.answer(1, 503, "busy");
  CHECK(answers.back().outcome == TokenAnswer::Outcome::kUnavailable);
}

TEST_CASE("ClientCredentialsSource: the token endpoint is discovered from the issuer") {
  FakeTokenEndpoint as;
  config::ClientCredentials config = client_config();
  config.client.token_endpoint.clear();
  config.client.issuer = "https://as.example/tenant";
  ClientCredentialsSource source("cc-discover", config, as.function(), as.clock());
  std::vector<TokenAnswer> answers;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 1);
  CHECK(as.calls[0].request.url == "https://as.example/tenant/.well-known/openid-configuration");
  as.answer(0, 404, "{}");
  REQUIRE(as.calls.size() == 2);  // then RFC 8414
  CHECK(as.calls[1].request.url ==
        "https://as.example/.well-known/oauth-authorization-server/tenant");
  as.answer(
      1, 200,
      R"({"issuer":"https://as.example/tenant","token_endpoint":"https://as.example/t/token"})");
  REQUIRE(as.calls.size() == 3);
  CHECK(as.calls[2].request.url == "https://as.example/t/token");
  as.answer(2, 200, FakeTokenEndpoint::token("tok", 60));
  REQUIRE(answers.size() == 2);
  CHECK(answers[1].header == "Bearer tok");
}

TEST_CASE("ClientCredentialsSource: a discovered endpoint must be https, the issuer exact") {
  FakeTokenEndpoint as;
  config::ClientCredentials config = client_config();
  config.client.token_endpoint.clear();
  config.client.issuer = "https://as.example";
  ClientCredentialsSource source("cc-discover-bad", config, as.function(), as.clock());
  std::vector<TokenAnswer> answers;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 1);
  as.answer(0, 200, R"({"issuer":"https://as.example","token_endpoint":"http://as.example/t"})");
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].outcome == TokenAnswer::Outcome::kUnavailable);
  CHECK(answers[0].reason == "discovery");
  CHECK(as.calls.size() == 1);  // no token request to an http endpoint

  as.now_ms += credentials::kFailureHold.count();
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(as.calls.size() == 2);
  as.answer(1, 200, R"({"issuer":"https://evil.example","token_endpoint":"https://as.example/t"})");
  CHECK(answers.back().reason == "discovery");
  CHECK(as.calls.size() == 2);
}

TEST_CASE("ClientCredentialsSource: refreshed ahead past 75 % of the lifetime, once") {
  FakeTokenEndpoint as;
  ClientCredentialsSource source("cc-ahead", client_config(), as.function(), as.clock());
  std::vector<TokenAnswer> answers;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  const int64_t issued = as.now_ms;
  as.answer(0, 200, FakeTokenEndpoint::token("tok-1", 100));  // fresh for 90 s, refresh at 75 s

  std::string header;
  TokenAnswer failure;
  bool refresh = true;
  CHECK(source.lookup(issued + 74'999, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK_FALSE(refresh);
  CHECK(source.lookup(issued + 75'000, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK(refresh);  // this lookup asks for the refresh...
  CHECK(source.lookup(issued + 75'001, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK_FALSE(refresh);  // ...and no other one
  CHECK(header == "Bearer tok-1");

  as.now_ms = issued + 75'010;
  source.refresh();
  source.refresh();
  REQUIRE(as.calls.size() == 2);  // one background request
  // Meanwhile the current token is served, without waiting.
  CHECK(source.lookup(issued + 80'000, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK(header == "Bearer tok-1");
  CHECK_FALSE(refresh);
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  CHECK(answers.size() == 2);
  CHECK(answers.back().header == "Bearer tok-1");

  as.now_ms = issued + 80'000;
  as.answer(1, 200, FakeTokenEndpoint::token("tok-2", 100));
  CHECK(answers.size() == 2);  // nobody waited for it
  // tok-2 from now on, fresh until 90 s after it came, refreshed from 75 s.
  CHECK(source.lookup(as.now_ms, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK(header == "Bearer tok-2");
  CHECK_FALSE(refresh);
  CHECK(source.lookup(as.now_ms + 89'999, &header, &failure) == TokenLookup::kHit);
  CHECK(source.lookup(as.now_ms + 75'000, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK(refresh);
  CHECK(as.calls.size() == 2);
}

TEST_CASE(
    "ClientCredentialsSource: a failed refresh ahead disturbs no caller, retried after the hold") {
  FakeTokenEndpoint as;
  ClientCredentialsSource source("cc-ahead-fail", client_config(), as.function(), as.clock());
  std::vector<TokenAnswer> answers;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  const int64_t issued = as.now_ms;
  as.answer(0, 200, FakeTokenEndpoint::token("tok-1", 100));

  std::string header;
  TokenAnswer failure;
  bool refresh = false;
  as.now_ms = issued + 76'000;
  REQUIRE(source.lookup(as.now_ms, &header, &failure, &refresh) == TokenLookup::kHit);
  REQUIRE(refresh);
  source.refresh();
  REQUIRE(as.calls.size() == 2);
  const double unavailable = requests("cc-ahead-fail", "unavailable");
  as.fail(1, http::FetchError::kConnect);
  CHECK(requests("cc-ahead-fail", "unavailable") == unavailable + 1);
  CHECK(answers.size() == 1);

  // The token is still fresh: served, and no new refresh during the hold.
  const int64_t hold_end = as.now_ms + credentials::kFailureHold.count();
  CHECK(source.lookup(hold_end - 1, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK(header == "Bearer tok-1");
  CHECK_FALSE(refresh);
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  REQUIRE(answers.size() == 2);
  CHECK(answers.back().outcome == TokenAnswer::Outcome::kIssued);
  CHECK(answers.back().header == "Bearer tok-1");
  CHECK(as.calls.size() == 2);

  // After the hold the next lookup asks again.
  CHECK(source.lookup(hold_end, &header, &failure, &refresh) == TokenLookup::kHit);
  CHECK(refresh);
  as.now_ms = hold_end;
  source.refresh();
  REQUIRE(as.calls.size() == 3);
  as.answer(2, 200, FakeTokenEndpoint::token("tok-2", 100));
  CHECK(source.lookup(as.now_ms, &header, &failure) == TokenLookup::kHit);
  CHECK(header == "Bearer tok-2");
}

TEST_CASE(
    "ClientCredentialsSource: a miss during a refresh ahead waits for it, no second request") {
  FakeTokenEndpoint as;
  ClientCredentialsSource source("cc-ahead-miss", client_config(), as.function(), as.clock());
  std::vector<TokenAnswer> answers;
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  const int64_t issued = as.now_ms;
  as.answer(0, 200, FakeTokenEndpoint::token("tok-1", 100));
  as.now_ms = issued + 75'000;
  source.refresh();
  REQUIRE(as.calls.size() == 2);
  as.now_ms = issued + 90'000;  // the refresh is slow: tok-1 is past its margin
  source.obtain([&](const TokenAnswer& a) { answers.push_back(a); });
  CHECK(answers.size() == 1);
  CHECK(as.calls.size() == 2);
  as.answer(1, 200, FakeTokenEndpoint::token("tok-2", 100));
  REQUIRE(answers.size() == 2);
  CHECK(answers.back().header == "Bearer tok-2");
}
