// What a token endpoint answered, read with jansson and judged once: an
// issued token (token_type Bearer or N_A for token exchange, a non-empty
// access_token that is a valid header value, expires_in), a refusal of the
// request (4xx with an OAuth error code), a refusal of the gateway's own
// client (invalid_client), or no usable answer (transport failure, 5xx,
// malformed JSON, wrong content). The AS's error_description is never kept:
// it may echo the subject token.
#pragma once

#include <chrono>
#include <string>

#include "common/fetch/http_fetch.h"

namespace mag::credentials {

struct TokenResponse {
  enum class Outcome {
    kIssued,
    kRefused,         // 400/403 with an OAuth error: invalid_grant, invalid_target, ...
    kClientRejected,  // 401, or error=invalid_client / unauthorized_client
    kUnavailable,     // transport failure, 5xx, or an answer that is not a token response
  };
  Outcome outcome = Outcome::kUnavailable;
  std::string access_token;  // kIssued
  // kIssued: expires_in; zero when the AS sent none (the caller picks a default).
  std::chrono::seconds expires_in{0};
  // Not kIssued: a short reason for logs and metrics: the OAuth error code
  // when it is one of RFC 6749 / 8693's (else "other"), or the transport
  // failure kind ("timeout", "tls", ...), or "malformed".
  std::string reason;
};

TokenResponse parse_token_response(const http::FetchResult& result);

}  // namespace mag::credentials
