#include "proxy/credentials/token_response.h"

#include <jansson.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "proxy/auth/jwt_compact.h"

namespace mag::credentials {
namespace {

constexpr size_t kMaxAccessTokenBytes = 8192;
// An answer larger than this is no token response (the fetch caps the body
// too; this keeps the parser's own bound independent of the caller's).
constexpr size_t kMaxResponseBytes = 64 * 1024;
// expires_in above a year is capped: the cache still refreshes in time.
constexpr json_int_t kMaxExpiresInSeconds = 365LL * 24 * 3600;

// RFC 6749 §5.2 and RFC 8693 §2.2.2 error codes, kept as the reason.
constexpr std::array<std::string_view, 7> kRefusalCodes = {
    "invalid_request", "invalid_grant",  "unauthorized_client", "unsupported_grant_type",
    "invalid_scope",   "invalid_target", "access_denied"};

TokenResponse unavailable(std::string reason) {
  TokenResponse response;
  response.outcome = TokenResponse::Outcome::kUnavailable;
  response.reason = std::move(reason);
  return response;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Visible ASCII only: sent as `Bearer <token>`, it must be a valid header
// value with nothing that could split it.
bool is_token_value(std::string_view token) {
  return !token.empty() && token.size() <= kMaxAccessTokenBytes &&
         std::all_of(token.begin(), token.end(), [](char ch) {
           const auto c = static_cast<unsigned char>(ch);
           return c > 0x20 && c < 0x7F;
         });
}

std::string_view string_member(json_t* object, const char* name) {
  json_t* value = json_object_get(object, name);
  if (!json_is_string(value)) return {};
  return {json_string_value(value), json_string_length(value)};
}

TokenResponse issued(json_t* body) {
  const std::string_view token = string_member(body, "access_token");
  const std::string_view type = string_member(body, "token_type");
  if (!is_token_value(token)) return unavailable("malformed");
  if (!equals_ignoring_case(type, "Bearer") && !equals_ignoring_case(type, "N_A")) {
    return unavailable("malformed");
  }
  json_t* expires_in = json_object_get(body, "expires_in");
  json_int_t seconds = 0;
  if (expires_in != nullptr) {
    if (!json_is_integer(expires_in) || json_integer_value(expires_in) < 0) {
      return unavailable("malformed");
    }
    seconds = std::min(json_integer_value(expires_in), kMaxExpiresInSeconds);
  }
  TokenResponse response;
  response.outcome = TokenResponse::Outcome::kIssued;
  response.access_token = std::string(token);
  response.expires_in = std::chrono::seconds(seconds);
  return response;
}

TokenResponse refused(json_t* body) {
  const std::string_view code = string_member(body, "error");
  if (code.empty()) return unavailable("malformed");
  TokenResponse response;
  if (code == "invalid_client" || code == "unauthorized_client") {
    response.outcome = TokenResponse::Outcome::kClientRejected;
    response.reason = std::string(code);
    return response;
  }
  response.outcome = TokenResponse::Outcome::kRefused;
  const bool known =
      std::find(kRefusalCodes.begin(), kRefusalCodes.end(), code) != kRefusalCodes.end();
  response.reason = known ? std::string(code) : "other";
  return response;
}

}  // namespace

TokenResponse parse_token_response(const http::FetchResult& result) {
  if (!result.ok) return unavailable(std::string(http::to_string(result.kind)));
  if (result.status == 401) {
    TokenResponse response;
    response.outcome = TokenResponse::Outcome::kClientRejected;
    response.reason = "invalid_client";
    return response;
  }
  if (result.status != 200 && result.status != 400 && result.status != 403) {
    return unavailable(result.status >= 500 ? "server_error" : "malformed");
  }
  if (result.body.size() > kMaxResponseBytes) return unavailable("malformed");
  const JsonPtr body = auth::parse_json_object(result.body);
  if (!body) return unavailable("malformed");
  return result.status == 200 ? issued(body.get()) : refused(body.get());
}

}  // namespace mag::credentials
