// RFC 6750 + RFC 9728 Bearer challenges for 400/401/403 responses, and the
// advisory JSON error body. Every value is sanitised so the header always
// stays parseable, whatever text a verifier or a token put into it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mag::auth {

enum class ChallengeError {
  kNone,               // no credentials: RFC 6750 §3.1 says send no error code
  kInvalidRequest,     // 400: malformed request (two Authorization headers...)
  kInvalidToken,       // 401: token present but not acceptable
  kInsufficientScope,  // 403: valid token, missing scopes
};

// "invalid_token", ... ; "" for kNone.
std::string_view challenge_error_code(ChallengeError error);

struct Challenge {
  ChallengeError error = ChallengeError::kNone;
  std::string description;          // error_description; ignored for kNone
  std::vector<std::string> scopes;  // scope="a b"; omitted when empty
  std::string resource_metadata;    // absolute PRM URL; omitted when empty
};

// The WWW-Authenticate value. "Bearer" first, lowercase parameter names,
// each parameter at most once, in these orders:
//   kNone:              Bearer resource_metadata="…"[, scope="…"]
//   kInvalidToken:      Bearer error="invalid_token", error_description="…",
//   resource_metadata="…"[, scope="…"] kInvalidRequest:    Bearer error="invalid_request",
//   error_description="…", resource_metadata="…" kInsufficientScope: Bearer
//   error="insufficient_scope", scope="…", resource_metadata="…", error_description="…"
// Empty values are left out (an empty description is replaced by a generic one).
std::string www_authenticate_value(const Challenge& challenge);

// Convenience builders for the three usual cases.
std::string www_authenticate_no_credentials(const std::string& resource_metadata,
                                            const std::vector<std::string>& scopes = {});
std::string www_authenticate_invalid_token(const std::string& resource_metadata,
                                           std::string_view description,
                                           const std::vector<std::string>& scopes = {});
std::string www_authenticate_insufficient_scope(const std::string& resource_metadata,
                                                const std::vector<std::string>& scopes,
                                                std::string_view description);

// `{"error":"…","error_description":"…"}` (compact JSON via jansson, same
// sanitised description as the header). For kNone the error is
// "invalid_token" with "Authentication required", like the SDKs send.
std::string error_body_json(const Challenge& challenge);

// Keeps %x20-21 / %x23-5B / %x5D-7E (RFC 6750 error_description): `"` becomes
// `'`, `\` becomes `/`, anything else (controls, non-ASCII) `?`. At most
// 200 characters ("..." appended when cut).
std::string sanitize_error_description(std::string_view text);

// Keeps %x21 / %x23-5B / %x5D-7E (RFC 6750 scope-token); may return "".
std::string sanitize_scope_token(std::string_view token);

}  // namespace mag::auth
