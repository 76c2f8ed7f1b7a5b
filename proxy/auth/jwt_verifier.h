// JWT access-token verification: our own pre-validation of the compact form
// (jwt_compact.h), then the signature with OpenSSL EVP (jws_signature.h)
// against a key set, then the claims with jansson. Pure: no I/O, the clock is
// passed in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/jwks.h"

struct json_t;  // <jansson.h>

namespace mag::auth {

// Stable reason codes: used in error_description, logs and metrics
// (mag_auth_decisions_total's `reason`).
enum class Reason {
  kOk,
  kMalformed,  // not a compact JWS, bad base64url, bad JSON, duplicate members...
  kTooLarge,
  kAlgNotAllowed,      // includes none, HS* with public keys, JWE algs
  kUnsupportedHeader,  // crit, b64, zip, jku, x5u, jwk, x5c
  kUnknownKid,
  kBadSignature,
  kWrongIssuer,
  kWrongAudience,
  kExpired,
  kNotYetValid,
  kIssuedInFuture,
  kMissingClaim,
  kInvalidClaim,     // wrong type / out of range
  kWrongTokenType,   // header typ not accepted by the typ policy (e.g. an ID token)
  kLifetimeTooLong,  // exp - iat (or nbf) above max_lifetime
};
std::string_view reason_code(Reason r);         // "expired", "bad_signature", ...
std::string_view reason_description(Reason r);  // human text, safe for headers

struct Claims {
  std::string issuer;
  std::string subject;
  std::string client_id;  // client_id or azp, may be empty
  std::vector<std::string> audiences;
  std::vector<std::string> scopes;  // from `scope` (space-separated) or `scp`
  int64_t expires_at = 0;           // seconds since epoch; 0 = no exp (require_exp off)
  std::string kid;
};

// Which JOSE header `typ` values an access token may carry (RFC 9068 §4,
// RFC 8725 §3.11). Compared case-insensitively, with or without "application/".
enum class TokenTypePolicy {
  kJwtOrAtJwt,  // default: absent, "JWT" or "at+jwt" (Asgardeo, Entra, Auth0 send "JWT")
  kAtJwt,       // strict RFC 9068: only "at+jwt"
  kAny,         // no check
};

struct VerifyPolicy {
  std::string issuer;
  // The token's aud must contain one of these (route resource + provider audiences).
  std::vector<std::string> audiences;
  std::vector<std::string> algorithms = {"RS256"};
  int64_t clock_skew_seconds = 60;
  size_t max_token_bytes = 16 * 1024;
  TokenTypePolicy token_type = TokenTypePolicy::kJwtOrAtJwt;
  bool require_exp = true;
  int64_t max_lifetime_seconds = 0;  // 0: unlimited; else exp - (iat or nbf) must not exceed it
  std::vector<std::string> required_claims;  // payload members that must be present
};

struct VerifyResult {
  Reason reason = Reason::kMalformed;
  Claims claims;  // filled when reason == kOk
  // Fingerprint of the key that verified the signature (VerificationKey::fingerprint),
  // set whenever the signature was good, even if a claim failed afterwards.
  std::string key_fingerprint;
  bool ok() const { return reason == Reason::kOk; }
};

// Pure function of (token, keys, policy, now): the verified-token cache
// (token_cache.h) stores `claims` until claims.expires_at, as long as it
// re-checks the time claims and the policy. ECDSA signatures are only
// accepted in their exact raw R||S length, so one signature has at most the
// two (s, n-s) encodings.
VerifyResult verify_jwt(std::string_view token, const KeySet& keys, const VerifyPolicy& policy,
                        int64_t now_seconds);

struct CompactJws;  // proxy/auth/jwt_compact.h

// verify_jwt's key selection and signature check of a parsed token: the keys
// its kid selects whose type, curve and own `alg` fit the token's algorithm.
// `*used` (may be null) names the key that verified the signature.
Reason check_signature(const CompactJws& jws, const KeySet& keys, const VerificationKey** used);

// A NumericDate claim value as verify_jwt reads it (RFC 7519: a JSON
// number of seconds, reals floored): false for anything else, non-finite,
// below 1 or above kMaxNumericDate.
bool numeric_date_value(const json_t* value, int64_t* out);

// Largest accepted NumericDate (exp/nbf/iat): 2^53, the range a double holds
// exactly. Larger values (1e300, INT64_MAX) are invalid claims.
inline constexpr int64_t kMaxNumericDate = int64_t{1} << 53;

}  // namespace mag::auth
