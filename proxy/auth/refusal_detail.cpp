#include "proxy/auth/refusal_detail.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <vector>

#include "common/core/log.h"
#include "common/json/json_text.h"
#include "proxy/auth/jwt_compact.h"

namespace mag::auth {
namespace {

constexpr size_t kMaxListedKeys = 8;

// At most `max` bytes of valid UTF-8 `s`, never cutting a character.
std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

// Compact, ASCII-only JSON: control characters and non-ASCII escaped.
std::string dump(const json_t* value) {
  return json::to_json_string(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII)
      .value_or("?");
}

std::string quote_string(std::string_view text, size_t max) {
  const std::string_view shown = utf8_prefix(text, max);
  JsonPtr s = json_own(json_stringn(shown.data(), shown.size()));
  // Not UTF-8 (a configuration or JWKS value jansson refuses): \xNN form.
  std::string out = s ? dump(s.get()) : "\"" + log::sanitize(shown, max) + "\"";
  if (shown.size() < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::string quote_value(const json_t* value, bool nested) {
  if (json_is_string(value)) {
    return quote_string({json_string_value(value), json_string_length(value)},
                        RefusalDetail::kMaxValueBytes);
  }
  if (json_is_object(value)) return "{...} (an object)";
  if (!json_is_array(value)) return dump(value);
  const size_t size = json_array_size(value);
  if (nested) return "[...] (" + std::to_string(size) + " items)";
  std::string out = "[";
  for (size_t i = 0; i < size && i < RefusalDetail::kMaxArrayItems; ++i) {
    if (i > 0) out += ",";
    out += quote_value(json_array_get(value, i), true);
  }
  if (size > RefusalDetail::kMaxArrayItems) out += ",...";
  out += "]";
  if (size > RefusalDetail::kMaxArrayItems) out += " (" + std::to_string(size) + " items)";
  return out;
}

std::string joined(const std::vector<std::string>& items, size_t max = kMaxListedKeys) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max; ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  if (items.size() > max) out += ", ... (" + std::to_string(items.size()) + " in all)";
  return out.empty() ? "none" : out;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& item : items) quoted.push_back(RefusalDetail::quote(item));
  return joined(quoted, items.size());
}

std::string iso_time(int64_t seconds) {
  const time_t t = static_cast<time_t>(seconds);
  tm parts{};
  char text[64];
  if (gmtime_r(&t, &parts) == nullptr ||
      strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts) == 0)
    return std::to_string(seconds);
  return text;
}

std::string seconds(int64_t n) {
  return std::to_string(n) + " s";
}

std::string accepted_issuer(const RefusalDetail::Against& against) {
  return RefusalDetail::quote(against.policy.issuer) + " from provider " +
         std::string(against.provider);
}

std::string accepted_audiences(const RefusalDetail::Against& against) {
  std::vector<std::string> items;
  for (const auto& audience : against.policy.audiences) {
    items.push_back(RefusalDetail::quote(audience) +
                    (audience == against.route_resource ? " (the route's resource)" : ""));
  }
  return joined(items, items.size());
}

std::string key_kids(const KeySet* keys) {
  if (keys == nullptr) return "no keys";
  std::vector<std::string> kids;
  for (const auto& key : keys->keys()) {
    kids.push_back(key.kid.empty() ? "(no kid)" : RefusalDetail::quote(key.kid));
  }
  return "kids: " + joined(kids);
}

// A JSON string, or an array of JSON strings (aud, scp).
bool string_or_strings(const json_t* value) {
  if (json_is_string(value)) return true;
  if (!json_is_array(value)) return false;
  for (size_t i = 0; i < json_array_size(value); ++i) {
    if (!json_is_string(json_array_get(value, i))) return false;
  }
  return true;
}

bool is_date(const json_t* value) {
  int64_t ignored = 0;
  return numeric_date_value(value, &ignored);
}

}  // namespace

std::string RefusalDetail::quote(const json_t* value) {
  return value == nullptr ? "(absent)" : quote_value(value, false);
}

std::string RefusalDetail::quote(std::string_view text) {
  return quote_string(text, kMaxValueBytes);
}

RefusalDetail::RefusalDetail(std::string_view token, size_t max_token_bytes)
    : token_bytes_(token.size()) {
  segments_ = static_cast<size_t>(std::count(token.begin(), token.end(), '.')) + 1;
  if (token.size() > max_token_bytes || segments_ != 3) return;
  decoded_ = true;
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  if (auto header = base64url_decode(token.substr(0, first))) header_ = parse_json_object(*header);
  if (auto payload = base64url_decode(token.substr(first + 1, second - first - 1))) {
    payload_ = parse_json_object(*payload);
  }
}

std::string RefusalDetail::claim(const char* name) const {
  return quote(payload_ ? json_object_get(payload_.get(), name) : nullptr);
}

std::string RefusalDetail::header_member(const char* name) const {
  return quote(header_ ? json_object_get(header_.get(), name) : nullptr);
}

std::string RefusalDetail::describe(Reason reason, const Against& against, int64_t now) const {
  switch (reason) {
    case Reason::kOk:
      return "the token is valid";
    case Reason::kMalformed:
      return malformed();
    case Reason::kTooLarge:
      return "the token has " + std::to_string(token_bytes_) + " bytes (max_token_bytes " +
             std::to_string(against.policy.max_token_bytes) + ")";
    case Reason::kAlgNotAllowed:
      return alg_not_allowed(against);
    case Reason::kUnsupportedHeader:
      return unsupported_header();
    case Reason::kUnknownKid:
      return unknown_kid(against);
    case Reason::kBadSignature:
      return bad_signature(against);
    case Reason::kWrongIssuer:
      return "iss " + claim("iss") + " is not accepted (accepted: " + accepted_issuer(against) +
             ")";
    case Reason::kWrongAudience:
      return wrong_audience(against);
    case Reason::kExpired:
      return time_claim("exp", against, now);
    case Reason::kNotYetValid:
      return time_claim("nbf", against, now);
    case Reason::kIssuedInFuture:
      return time_claim("iat", against, now);
    case Reason::kMissingClaim:
      return missing_claim(against);
    case Reason::kInvalidClaim:
      return invalid_claim();
    case Reason::kWrongTokenType:
      return wrong_token_type(against);
    case Reason::kLifetimeTooLong:
      return lifetime_too_long(against);
  }
  return std::string(reason_description(reason));
}

std::string RefusalDetail::malformed() const {
  if (segments_ != 3) {
    return "dot-separated segments: " + std::to_string(segments_) + " (a compact JWS has 3)";
  }
  if (!header_) return "the header is not a base64url-encoded JSON object";
  if (!payload_) return "the payload is not a base64url-encoded JSON object";
  const json_t* alg = json_object_get(header_.get(), "alg");
  if (!json_is_string(alg)) return "alg is not a string: " + header_member("alg");
  const json_t* kid = json_object_get(header_.get(), "kid");
  if (kid != nullptr && !json_is_string(kid)) return "kid is not a string: " + header_member("kid");
  const json_t* typ = json_object_get(header_.get(), "typ");
  if (typ != nullptr && !json_is_string(typ)) return "typ is not a string: " + header_member("typ");
  return "a segment is not canonical base64url, or the kid, cty or signature length is invalid";
}

std::string RefusalDetail::alg_not_allowed(const Against& against) const {
  const json_t* alg = header_ ? json_object_get(header_.get(), "alg") : nullptr;
  const std::string text = json_is_string(alg) ? json_string_value(alg) : "";
  const auto& allowed = against.policy.algorithms;
  if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
    return "alg " + header_member("alg") + " is not accepted (accepted: " + joined(allowed) + ")";
  }
  // Accepted, but the key with this kid is of another type, curve or alg.
  std::vector<std::string> keys;
  const json_t* kid = json_object_get(header_.get(), "kid");
  const std::string kid_text = json_is_string(kid) ? json_string_value(kid) : "";
  if (against.keys != nullptr) {
    for (const auto& key : against.keys->keys()) {
      if (key.kid != kid_text) continue;
      keys.push_back("kty " + key.kty + (key.crv.empty() ? "" : " crv " + key.crv) +
                     (key.alg.empty() ? "" : " alg " + key.alg));
    }
  }
  return "alg " + header_member("alg") + " does not fit the key with kid " + header_member("kid") +
         " of provider " + std::string(against.provider) + " (" + joined(keys) + ")";
}

std::string RefusalDetail::unsupported_header() const {
  static constexpr std::array<const char*, 7> kRefused = {"crit", "b64", "zip", "jku",
                                                          "x5u",  "jwk", "x5c"};
  std::vector<std::string> present;
  for (const char* member : kRefused) {
    if (header_ && json_object_get(header_.get(), member) != nullptr) present.emplace_back(member);
  }
  if (present.empty()) return "cty " + header_member("cty") + " (a nested JWT) is not supported";
  return (present.size() == 1 ? "header parameter " : "header parameters ") + joined(present) +
         (present.size() == 1 ? " is" : " are") + " not supported";
}

std::string RefusalDetail::unknown_kid(const Against& against) const {
  const std::string provider(against.provider);
  if (against.keys == nullptr) return "provider " + provider + " has no keys";
  if (!header_ || json_object_get(header_.get(), "kid") == nullptr) {
    return "the token has no kid and no key of provider " + provider + " fits alg " +
           header_member("alg") + " (" + key_kids(against.keys) + ")";
  }
  return "kid " + header_member("kid") + " is not in the JWKS of provider " + provider + " (" +
         key_kids(against.keys) + ")";
}

std::string RefusalDetail::bad_signature(const Against& against) const {
  return "the signature does not verify with the keys of provider " +
         std::string(against.provider) + " for kid " + header_member("kid") + " and alg " +
         header_member("alg");
}

std::string RefusalDetail::wrong_audience(const Against& against) const {
  return "aud " + claim("aud") + " is not accepted (accepted: " + accepted_audiences(against) + ")";
}

std::string RefusalDetail::time_claim(const char* name, const Against& against, int64_t now) const {
  int64_t at = 0;
  const json_t* value = payload_ ? json_object_get(payload_.get(), name) : nullptr;
  const std::string skew = "(clock_skew " + seconds(against.policy.clock_skew_seconds) + ")";
  if (!numeric_date_value(value, &at)) return name + (" " + claim(name) + " " + skew);
  const std::string when = std::string(name) + " " + iso_time(at) + " is ";
  if (at <= now) return when + seconds(now - at) + " before now " + skew;
  return when + seconds(at - now) + " after now " + skew;
}

std::string RefusalDetail::missing_claim(const Against& against) const {
  const VerifyPolicy& policy = against.policy;
  auto absent = [&](const char* name) {
    return !payload_ || json_object_get(payload_.get(), name) == nullptr;
  };
  if (!policy.issuer.empty() && absent("iss")) {
    return "claim \"iss\" is missing (accepted: " + accepted_issuer(against) + ")";
  }
  if (!policy.audiences.empty() && absent("aud")) {
    return "claim \"aud\" is missing (accepted: " + accepted_audiences(against) + ")";
  }
  if (policy.require_exp && absent("exp")) return "claim \"exp\" is missing (require_exp is on)";
  for (const auto& name : policy.required_claims) {
    if (!payload_ || json_object_getn(payload_.get(), name.data(), name.size()) == nullptr) {
      return "claim " + quote(name) +
             " is missing (required_claims: " + quoted_list(policy.required_claims) + ")";
    }
  }
  if (policy.max_lifetime_seconds > 0 && absent("iat") && absent("nbf")) {
    return "claims \"iat\" and \"nbf\" are both missing (max_lifetime " +
           seconds(policy.max_lifetime_seconds) + " needs one)";
  }
  return "a required claim is missing";
}

std::string RefusalDetail::invalid_claim() const {
  if (!payload_) return "the payload is not a JSON object";
  json_t* payload = payload_.get();
  auto bad = [&](const char* name, bool (*valid)(const json_t*)) {
    const json_t* value = json_object_get(payload, name);
    return value != nullptr && !valid(value);
  };
  auto is_string = [](const json_t* v) { return json_is_string(v); };
  // In the order verify_jwt checks them.
  struct Check {
    const char* name;
    bool (*valid)(const json_t*);
    const char* expected;
  };
  const std::array<Check, 10> checks = {{
      {"iss", is_string, "a string"},
      {"aud", string_or_strings, "a string or an array of strings"},
      {"exp", is_date, "a NumericDate"},
      {"nbf", is_date, "a NumericDate"},
      {"iat", is_date, "a NumericDate"},
      {"sub", is_string, "a string"},
      {"client_id", is_string, "a string"},
      {"azp", is_string, "a string"},  // read only without client_id
      {"scope", is_string, "a string"},
      {"scp", string_or_strings, "a string or an array of strings"},
  }};
  const bool has_client_id = json_object_get(payload, "client_id") != nullptr;
  for (const Check& check : checks) {
    if (check.name == std::string_view("azp") && has_client_id) continue;
    if (bad(check.name, check.valid)) {
      return "claim \"" + std::string(check.name) + "\" is " + claim(check.name) + ", not " +
             check.expected;
    }
  }
  return "a claim has the wrong type or range";
}

std::string RefusalDetail::wrong_token_type(const Against& against) const {
  const std::string accepted = against.policy.token_type == TokenTypePolicy::kAtJwt
                                   ? "\"at+jwt\""
                                   : "\"at+jwt\", \"JWT\" or none";
  return "typ " + header_member("typ") + " is not accepted (accepted: " + accepted + ")";
}

std::string RefusalDetail::lifetime_too_long(const Against& against) const {
  const std::string limit = "(max_lifetime " + seconds(against.policy.max_lifetime_seconds) + ")";
  int64_t exp = 0, start = 0;
  auto date = [&](const char* name, int64_t* out) {
    return payload_ && numeric_date_value(json_object_get(payload_.get(), name), out);
  };
  if (!date("exp", &exp)) return "the token has no exp " + limit;
  const char* from = date("iat", &start) ? "iat" : date("nbf", &start) ? "nbf" : nullptr;
  if (from == nullptr) return "the token has no iat or nbf " + limit;
  return "exp - " + std::string(from) + " is " + seconds(exp - start) + " " + limit;
}

}  // namespace mag::auth
