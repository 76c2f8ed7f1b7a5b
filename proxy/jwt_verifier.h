// JWT access-token verification: our own pre-validation of the compact form
// (so cjose only ever sees well-formed input), then the signature with cjose
// against a key set, then the claims with jansson. Pure: no I/O, the clock is
// passed in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/jwks.h"

namespace mag::auth {

// Stable reason codes: used in error_description, logs and (later) metrics.
enum class Reason {
  kOk,
  kMalformed,        // not a compact JWS, bad base64url, bad JSON, duplicate members...
  kTooLarge,
  kAlgNotAllowed,    // includes none, HS* with public keys, JWE algs
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
};
std::string_view reason_code(Reason r);         // "expired", "bad_signature", ...
std::string_view reason_description(Reason r);  // human text, safe for headers

struct Claims {
  std::string issuer;
  std::string subject;
  std::string client_id;  // client_id or azp, may be empty
  std::vector<std::string> audiences;
  std::vector<std::string> scopes;  // from `scope` (space-separated) or `scp`
  int64_t expires_at = 0;           // seconds since epoch
  std::string kid;
};

struct VerifyPolicy {
  std::string issuer;
  // The token's aud must contain one of these (route resource + provider audiences).
  std::vector<std::string> audiences;
  std::vector<std::string> algorithms = {"RS256"};
  int64_t clock_skew_seconds = 60;
  size_t max_token_bytes = 16 * 1024;
};

struct VerifyResult {
  Reason reason = Reason::kMalformed;
  Claims claims;  // filled when reason == kOk
  bool ok() const { return reason == Reason::kOk; }
};

VerifyResult verify_jwt(std::string_view token, const KeySet& keys, const VerifyPolicy& policy,
                        int64_t now_seconds);

}  // namespace mag::auth
