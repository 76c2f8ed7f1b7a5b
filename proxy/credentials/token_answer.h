// What a token source tells a request: the Authorization value to send
// upstream, or why there is none (the judged token endpoint answer, with a
// bounded reason: never the AS's text, never a token). And the cache
// lifetime rules shared by both grants.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "proxy/credentials/token_response.h"

namespace mag::credentials {

struct TokenAnswer {
  using Outcome = TokenResponse::Outcome;
  Outcome outcome = Outcome::kUnavailable;
  std::string header;  // kIssued: "Bearer <token>"
  std::string reason;  // otherwise: an OAuth error code, a transport failure kind, "discovery"...
};

// A worker's look at a source's published state.
enum class TokenLookup {
  kHit,     // a fresh token: the header is filled in
  kFailed,  // a recent failure is remembered (back-off): answer it at once
  kMiss,    // ask the source on the main loop
};

// "issued", "refused", "client_rejected", "unavailable": the outcome label.
std::string_view outcome_label(TokenAnswer::Outcome outcome);

// The lifetime assumed when the AS sends no expires_in (or 0).
inline constexpr std::chrono::seconds kDefaultLifetime{300};
// A failure (AS unavailable, client rejected) is answered from memory for
// this long, so that a dead or misconfigured AS is not hammered.
inline constexpr std::chrono::milliseconds kFailureHold{2000};
// A token exchange refused for a subject token (kRefused: invalid_grant,
// invalid_target, ...) is answered from memory for that subject token for
// this long (never beyond its exp): the AS is not asked again meanwhile.
inline constexpr std::chrono::milliseconds kRefusalHold{30'000};

// Until when (ms since the epoch) a token issued at `now_ms` with
// `expires_in` is used: its lifetime (kDefaultLifetime for 0) minus a
// margin of min(60 s, 10% of the lifetime), so that no request carries a
// token about to expire.
int64_t fresh_until_ms(int64_t now_ms, std::chrono::seconds expires_in);

// From when (ms since the epoch) a token issued at `now_ms` with
// `expires_in` is refreshed ahead of its expiry (client_credentials): past
// 75 % of its lifetime, well before fresh_until_ms (at least 90 %).
int64_t refresh_after_ms(int64_t now_ms, std::chrono::seconds expires_in);

// A source's obtain(): when `lookup` (kHit with answer.header, or kFailed
// with the failure) can be answered at once, calls `done` and returns true.
bool answered_at_once(TokenLookup lookup, TokenAnswer answer,
                      const std::function<void(const TokenAnswer&)>& done);

// The answer of a token endpoint response: "Bearer <token>" when issued.
TokenAnswer answer_from(TokenResponse response);

}  // namespace mag::credentials
