// The cache lifetime of an issued token and the answer made of a response.
#include <doctest/doctest.h>

#include "proxy/credentials/token_answer.h"

using namespace mag::credentials;
using std::chrono::seconds;

TEST_CASE("fresh_until_ms: lifetime minus min(60 s, 10%)") {
  CHECK(fresh_until_ms(0, seconds{3600}) == (3600 - 60) * 1000);  // 10% = 360 s > 60 s
  CHECK(fresh_until_ms(0, seconds{300}) == (300 - 30) * 1000);    // 10% = 30 s
  CHECK(fresh_until_ms(0, seconds{10}) == 9000);
  CHECK(fresh_until_ms(5000, seconds{100}) == 5000 + 90'000);
}

TEST_CASE("fresh_until_ms: no expires_in (0) means the default lifetime") {
  CHECK(fresh_until_ms(0, seconds{0}) == fresh_until_ms(0, kDefaultLifetime));
  CHECK(fresh_until_ms(0, seconds{-5}) == fresh_until_ms(0, kDefaultLifetime));
}

TEST_CASE("answer_from: an issued token becomes a Bearer header; a refusal keeps its reason") {
  TokenResponse issued;
  issued.outcome = TokenResponse::Outcome::kIssued;
  issued.access_token = "abc";
  TokenAnswer answer = answer_from(issued);
  CHECK(answer.header == "Bearer abc");
  CHECK(answer.reason.empty());

  TokenResponse refused;
  refused.outcome = TokenResponse::Outcome::kRefused;
  refused.reason = "invalid_grant";
  answer = answer_from(refused);
  CHECK(answer.outcome == TokenAnswer::Outcome::kRefused);
  CHECK(answer.header.empty());
  CHECK(answer.reason == "invalid_grant");
  CHECK(outcome_label(TokenAnswer::Outcome::kClientRejected) == "client_rejected");
}
