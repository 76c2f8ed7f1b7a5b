#include "proxy/credentials/token_answer.h"

#include <algorithm>

namespace mag::credentials {

std::string_view outcome_label(TokenAnswer::Outcome outcome) {
  switch (outcome) {
    case TokenAnswer::Outcome::kIssued:
      return "issued";
    case TokenAnswer::Outcome::kRefused:
      return "refused";
    case TokenAnswer::Outcome::kClientRejected:
      return "client_rejected";
    default:
      return "unavailable";
  }
}

namespace {

int64_t lifetime_ms(std::chrono::seconds expires_in) {
  return (expires_in.count() > 0 ? expires_in : kDefaultLifetime).count() * int64_t{1000};
}

}  // namespace

int64_t fresh_until_ms(int64_t now_ms, std::chrono::seconds expires_in) {
  const int64_t lifetime = lifetime_ms(expires_in);
  const int64_t margin_ms = std::min<int64_t>(60'000, lifetime / 10);
  return now_ms + lifetime - margin_ms;
}

int64_t refresh_after_ms(int64_t now_ms, std::chrono::seconds expires_in) {
  return now_ms + lifetime_ms(expires_in) / 4 * 3;
}

bool answered_at_once(TokenLookup lookup, TokenAnswer answer,
                      const std::function<void(const TokenAnswer&)>& done) {
  if (lookup == TokenLookup::kMiss) return false;
  if (lookup == TokenLookup::kHit) answer.outcome = TokenAnswer::Outcome::kIssued;
  done(answer);
  return true;
}

TokenAnswer answer_from(TokenResponse response) {
  TokenAnswer answer;
  answer.outcome = response.outcome;
  if (response.outcome == TokenAnswer::Outcome::kIssued) {
    answer.header = "Bearer " + response.access_token;
  } else {
    answer.reason = std::move(response.reason);
  }
  return answer;
}

}  // namespace mag::credentials
