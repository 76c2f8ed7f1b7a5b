#include "proxy/auth/jwt_verifier.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "proxy/auth/jws_signature.h"
#include "proxy/auth/jwt_compact.h"

namespace mag::auth {
namespace {

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

// ---- key selection and signature ----------------------------------------

// A key may verify a token only if its type (and curve) is the one the
// algorithm needs and its own `alg`, when set, is exactly the token's.
bool key_fits(const VerificationKey& key, const std::string& alg) {
  if (key.kty != kty_for_alg(alg)) return false;
  if ((key.kty == "EC" || key.kty == "OKP") && key.crv != curve_for_alg(alg)) return false;
  return key.alg.empty() || key.alg == alg;
}

}  // namespace

Reason check_signature(const CompactJws& jws, const KeySet& keys, const VerificationKey** used) {
  const auto candidates = keys.find(jws.kid);
  bool kid_known = false;  // a key carries exactly this kid
  bool tried = false;
  for (const VerificationKey* key : candidates) {
    if (jws.has_kid && key->kid == jws.kid) kid_known = true;
    if (!key_fits(*key, jws.alg)) continue;
    tried = true;
    if (verify_jws_signature(jws.alg, key->pkey.get(), jws.signing_input, jws.signature)) {
      if (used != nullptr) *used = key;
      return Reason::kOk;
    }
  }
  if (tried) return Reason::kBadSignature;
  return kid_known ? Reason::kAlgNotAllowed : Reason::kUnknownKid;
}

namespace {

// ---- claims ----------------------------------------------------------------

enum class Field { kAbsent, kOk, kInvalid };

Field numeric_date(json_t* payload, const char* name, int64_t* out) {
  json_t* v = json_object_get(payload, name);
  if (v == nullptr) return Field::kAbsent;
  return numeric_date_value(v, out) ? Field::kOk : Field::kInvalid;
}

Field string_claim(json_t* payload, const char* name, std::string* out) {
  json_t* v = json_object_get(payload, name);
  if (v == nullptr) return Field::kAbsent;
  if (!json_is_string(v)) return Field::kInvalid;
  out->assign(json_string_value(v), json_string_length(v));
  return Field::kOk;
}

// Origin-only URLs ("https://h" and "https://h/") name the same resource;
// for anything with a path the comparison stays exact.
std::string_view origin_form(std::string_view s) {
  const size_t scheme = s.find("://");
  if (scheme == std::string_view::npos) return s;
  const std::string_view scheme_name = s.substr(0, scheme);
  if (scheme_name != "https" && scheme_name != "http") return s;
  const size_t slash = s.find('/', scheme + 3);
  if (slash == std::string_view::npos) return s;
  if (slash + 1 == s.size() && slash > scheme + 3) return s.substr(0, slash);
  return s;
}

bool audience_matches(std::string_view token_aud, std::string_view wanted) {
  return token_aud == wanted || origin_form(token_aud) == origin_form(wanted);
}

Reason read_audiences(json_t* payload, std::vector<std::string>* out) {
  json_t* aud = json_object_get(payload, "aud");
  if (aud == nullptr) return Reason::kMissingClaim;
  if (json_is_string(aud)) {
    out->emplace_back(json_string_value(aud), json_string_length(aud));
    return Reason::kOk;
  }
  if (!json_is_array(aud)) return Reason::kInvalidClaim;
  size_t i;
  json_t* v;
  json_array_foreach(aud, i, v) {
    if (!json_is_string(v)) return Reason::kInvalidClaim;
    out->emplace_back(json_string_value(v), json_string_length(v));
  }
  return Reason::kOk;
}

Reason check_audience(json_t* payload, const VerifyPolicy& policy, Claims* claims) {
  if (Reason r = read_audiences(payload, &claims->audiences); r != Reason::kOk) {
    // No audience restriction configured: a missing aud is fine, a bad one is not.
    return (r == Reason::kMissingClaim && policy.audiences.empty()) ? Reason::kOk : r;
  }
  if (policy.audiences.empty()) return Reason::kOk;
  for (const auto& have : claims->audiences) {
    for (const auto& want : policy.audiences) {
      if (audience_matches(have, want)) return Reason::kOk;
    }
  }
  return Reason::kWrongAudience;
}

void add_scope(std::vector<std::string>* scopes, std::string_view s) {
  if (s.empty()) return;
  if (std::find(scopes->begin(), scopes->end(), s) == scopes->end()) scopes->emplace_back(s);
}

void add_space_separated(std::vector<std::string>* scopes, std::string_view text) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    add_scope(scopes, text.substr(start, end - start));
    start = end + 1;
  }
}

// `scope` (RFC 9068 / RFC 8693: space-separated string) and `scp` (array of
// strings, or a string, as Entra ID and Okta send it). Both are merged.
Reason read_scopes(json_t* payload, std::vector<std::string>* scopes) {
  if (json_t* scope = json_object_get(payload, "scope")) {
    if (!json_is_string(scope)) return Reason::kInvalidClaim;
    add_space_separated(scopes, {json_string_value(scope), json_string_length(scope)});
  }
  if (json_t* scp = json_object_get(payload, "scp")) {
    if (json_is_string(scp)) {
      add_space_separated(scopes, {json_string_value(scp), json_string_length(scp)});
    } else if (json_is_array(scp)) {
      size_t i;
      json_t* v;
      json_array_foreach(scp, i, v) {
        if (!json_is_string(v)) return Reason::kInvalidClaim;
        add_scope(scopes, {json_string_value(v), json_string_length(v)});
      }
    } else {
      return Reason::kInvalidClaim;
    }
  }
  return Reason::kOk;
}

Reason check_issuer(json_t* payload, const VerifyPolicy& policy, Claims* claims) {
  switch (string_claim(payload, "iss", &claims->issuer)) {
    case Field::kAbsent:
      return policy.issuer.empty() ? Reason::kOk : Reason::kMissingClaim;
    case Field::kInvalid:
      return Reason::kInvalidClaim;
    case Field::kOk:
      break;
  }
  // Exact comparison only: no prefix, suffix, case or slash leniency.
  if (!policy.issuer.empty() && claims->issuer != policy.issuer) return Reason::kWrongIssuer;
  return Reason::kOk;
}

Reason check_times(json_t* payload, const VerifyPolicy& policy, int64_t now, Claims* claims) {
  const int64_t skew = std::max<int64_t>(0, policy.clock_skew_seconds);
  int64_t exp = 0, nbf = 0, iat = 0;
  const Field exp_field = numeric_date(payload, "exp", &exp);
  switch (exp_field) {
    case Field::kAbsent:
      if (policy.require_exp) return Reason::kMissingClaim;
      break;
    case Field::kInvalid:
      return Reason::kInvalidClaim;
    case Field::kOk:
      break;
  }
  const Field nbf_field = numeric_date(payload, "nbf", &nbf);
  const Field iat_field = numeric_date(payload, "iat", &iat);
  if (nbf_field == Field::kInvalid || iat_field == Field::kInvalid) return Reason::kInvalidClaim;
  claims->expires_at = exp_field == Field::kOk ? exp : 0;
  // RFC 7519 §4.1.4: reject "on or after" exp (plus the allowed skew).
  if (exp_field == Field::kOk && now >= saturating_add(exp, skew)) return Reason::kExpired;
  if (nbf_field == Field::kOk && saturating_add(now, skew) < nbf) return Reason::kNotYetValid;
  if (iat_field == Field::kOk && iat > saturating_add(now, skew)) return Reason::kIssuedInFuture;
  if (policy.max_lifetime_seconds > 0) {
    // Without exp the lifetime is unbounded; without iat and nbf it is unknown.
    if (exp_field != Field::kOk) return Reason::kLifetimeTooLong;
    if (iat_field != Field::kOk && nbf_field != Field::kOk) return Reason::kMissingClaim;
    const int64_t start = iat_field == Field::kOk ? iat : nbf;
    // Both are within [1, 2^53], so the difference cannot overflow.
    if (exp - start > policy.max_lifetime_seconds) return Reason::kLifetimeTooLong;
  }
  return Reason::kOk;
}

Reason check_required(json_t* payload, const VerifyPolicy& policy) {
  for (const auto& name : policy.required_claims) {
    if (json_object_getn(payload, name.data(), name.size()) == nullptr)
      return Reason::kMissingClaim;
  }
  return Reason::kOk;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// RFC 7515 §4.1.9: typ is a media type, case-insensitive, and the
// "application/" prefix may be left out.
Reason check_token_type(json_t* header, TokenTypePolicy policy) {
  if (policy == TokenTypePolicy::kAny) return Reason::kOk;
  json_t* typ = json_object_get(header, "typ");
  if (typ == nullptr)
    return policy == TokenTypePolicy::kAtJwt ? Reason::kWrongTokenType : Reason::kOk;
  if (!json_is_string(typ)) return Reason::kMalformed;
  std::string value = ascii_lower({json_string_value(typ), json_string_length(typ)});
  if (value.starts_with("application/")) value.erase(0, 12);
  if (value == "at+jwt") return Reason::kOk;
  if (value == "jwt" && policy == TokenTypePolicy::kJwtOrAtJwt) return Reason::kOk;
  return Reason::kWrongTokenType;
}

Reason check_identity(json_t* payload, Claims* claims) {
  if (string_claim(payload, "sub", &claims->subject) == Field::kInvalid)
    return Reason::kInvalidClaim;
  Field client = string_claim(payload, "client_id", &claims->client_id);
  if (client == Field::kInvalid) return Reason::kInvalidClaim;
  if (client == Field::kAbsent &&
      string_claim(payload, "azp", &claims->client_id) == Field::kInvalid)
    return Reason::kInvalidClaim;
  return read_scopes(payload, &claims->scopes);
}

Reason check_claims(json_t* payload, const VerifyPolicy& policy, int64_t now, Claims* claims) {
  if (Reason r = check_issuer(payload, policy, claims); r != Reason::kOk) return r;
  if (Reason r = check_audience(payload, policy, claims); r != Reason::kOk) return r;
  if (Reason r = check_times(payload, policy, now, claims); r != Reason::kOk) return r;
  if (Reason r = check_required(payload, policy); r != Reason::kOk) return r;
  return check_identity(payload, claims);
}

}  // namespace

// Reals are floored (as google/jwt_verify_lib does); the range check keeps
// later arithmetic from overflowing.
bool numeric_date_value(const json_t* v, int64_t* out) {
  if (json_is_integer(v)) {
    const json_int_t i = json_integer_value(v);
    if (i < 1 || i > kMaxNumericDate) return false;
    *out = static_cast<int64_t>(i);
    return true;
  }
  if (json_is_real(v)) {
    const double d = json_real_value(v);
    if (!std::isfinite(d) || d < 1.0 || d > static_cast<double>(kMaxNumericDate)) return false;
    *out = static_cast<int64_t>(std::floor(d));
    return true;
  }
  return false;
}

std::string_view reason_code(Reason r) {
  switch (r) {
    case Reason::kOk:
      return "ok";
    case Reason::kMalformed:
      return "malformed";
    case Reason::kTooLarge:
      return "too_large";
    case Reason::kAlgNotAllowed:
      return "alg_not_allowed";
    case Reason::kUnsupportedHeader:
      return "unsupported_header";
    case Reason::kUnknownKid:
      return "unknown_kid";
    case Reason::kBadSignature:
      return "bad_signature";
    case Reason::kWrongIssuer:
      return "wrong_issuer";
    case Reason::kWrongAudience:
      return "wrong_audience";
    case Reason::kExpired:
      return "expired";
    case Reason::kNotYetValid:
      return "not_yet_valid";
    case Reason::kIssuedInFuture:
      return "issued_in_future";
    case Reason::kMissingClaim:
      return "missing_claim";
    case Reason::kInvalidClaim:
      return "invalid_claim";
    case Reason::kWrongTokenType:
      return "wrong_token_type";
    case Reason::kLifetimeTooLong:
      return "lifetime_too_long";
  }
  return "unknown";
}

std::string_view reason_description(Reason r) {
  switch (r) {
    case Reason::kOk:
      return "The token is valid";
    case Reason::kMalformed:
      return "The token is malformed";
    case Reason::kTooLarge:
      return "The token is too large";
    case Reason::kAlgNotAllowed:
      return "The token's signing algorithm is not allowed";
    case Reason::kUnsupportedHeader:
      return "The token uses an unsupported header parameter";
    case Reason::kUnknownKid:
      return "The token was signed by an unknown key";
    case Reason::kBadSignature:
      return "The token signature is invalid";
    case Reason::kWrongIssuer:
      return "The token issuer is not accepted";
    case Reason::kWrongAudience:
      return "The token audience is not accepted";
    case Reason::kExpired:
      return "The token has expired";
    case Reason::kNotYetValid:
      return "The token is not yet valid";
    case Reason::kIssuedInFuture:
      return "The token was issued in the future";
    case Reason::kMissingClaim:
      return "The token lacks a required claim";
    case Reason::kInvalidClaim:
      return "The token has a claim of the wrong type or range";
    case Reason::kWrongTokenType:
      return "The token type (typ) is not accepted for access tokens";
    case Reason::kLifetimeTooLong:
      return "The token lifetime exceeds the allowed maximum";
  }
  return "The token is invalid";
}

VerifyResult verify_jwt(std::string_view token, const KeySet& keys, const VerifyPolicy& policy,
                        int64_t now_seconds) {
  VerifyResult result;
  CompactJws jws;
  result.reason = parse_compact_jws(token, policy.max_token_bytes, policy.algorithms, &jws);
  if (result.reason != Reason::kOk) return result;
  // Parse the payload before any RSA/ECDSA work: cheap rejections first.
  JsonPtr payload = parse_json_object(jws.payload);
  if (!payload) {
    result.reason = Reason::kMalformed;
    return result;
  }
  result.reason = check_token_type(jws.header.get(), policy.token_type);
  if (result.reason != Reason::kOk) return result;
  const VerificationKey* used = nullptr;
  result.reason = check_signature(jws, keys, &used);
  if (result.reason != Reason::kOk) return result;
  result.key_fingerprint = used->fingerprint;
  Claims claims;
  claims.kid = jws.kid;
  result.reason = check_claims(payload.get(), policy, now_seconds, &claims);
  if (result.reason == Reason::kOk) result.claims = std::move(claims);
  return result;
}

}  // namespace mag::auth
