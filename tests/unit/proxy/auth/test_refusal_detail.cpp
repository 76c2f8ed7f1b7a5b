// proxy/auth/refusal_detail.h: the log's account of a refused token. Each
// token here is first refused by verify_jwt for the reason under test, so
// the text is checked against the verifier's real decision; every text is
// checked to hold neither the token nor its signature.
#include <doctest/doctest.h>

#include <string>

#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/refusal_detail.h"
#include "tests/unit/jwt_test_util.h"

using namespace mag::auth;
using namespace mag::auth::testing;

namespace {

constexpr int64_t kNow = 1700000000;  // 2023-11-14T22:13:20Z
const std::string kResource = "http://127.0.0.1:8000/mcp";
const std::string kHeader = R"({"alg":"RS256","kid":"rsa1"})";

const KeySet& test_keys() {
  static const std::shared_ptr<const KeySet> keys = [] {
    auto parsed = parse_jwks(
        jwks_of({public_jwk(rsa_key(), "rsa1", "RS256"), public_jwk(ec_key(), "ec1", "ES256")}));
    REQUIRE_MESSAGE(parsed.keys, parsed.error);
    return parsed.keys;
  }();
  return *keys;
}

VerifyPolicy test_policy() {
  VerifyPolicy p;
  p.issuer = "https://b";
  p.audiences = {kResource, "client-a"};
  p.algorithms = {"RS256"};
  p.clock_skew_seconds = 30;
  return p;
}

// {"sub":"u1", `members`}: each test lists the claims it needs.
std::string payload(const std::string& members) {
  return R"({"sub":"u1")" + (members.empty() ? "" : "," + members) + "}";
}
std::string iss_aud() {
  return R"("iss":"https://b","aud":")" + kResource + R"(")";
}
std::string times(int64_t iat, int64_t exp) {
  return R"("iat":)" + std::to_string(iat) + R"(,"exp":)" + std::to_string(exp);
}
std::string valid_times() {
  return times(kNow, kNow + 300);
}

std::string rs_token(const std::string& payload_json, const std::string& header = kHeader) {
  return signed_token(rsa_key(), "RS256", header, payload_json);
}

// The detail of `token` as the verifier refuses it under `policy`; the
// verifier must give `expected`, and the text must not carry the token.
std::string detail(const std::string& token, Reason expected,
                   const VerifyPolicy& policy = test_policy(), const KeySet* keys = &test_keys()) {
  static const KeySet kNoKeys;
  const VerifyResult result = verify_jwt(token, keys ? *keys : kNoKeys, policy, kNow);
  REQUIRE(reason_code(result.reason) == reason_code(expected));
  const std::string text = RefusalDetail(token, policy.max_token_bytes)
                               .describe(result.reason, {"dev", policy, kResource, keys}, kNow);
  CHECK(text.find(token) == std::string::npos);
  const size_t dot = token.rfind('.');
  if (dot != std::string::npos && token.size() - dot > 8) {
    CHECK(text.find(token.substr(dot + 1)) == std::string::npos);  // the signature
  }
  for (unsigned char c : text)
    CHECK_MESSAGE((c >= 0x20 && c < 0x7f), "byte ", int(c), " in ", text);
  return text;
}

}  // namespace

TEST_CASE("refusal detail: wrong_issuer names the iss that came and the accepted one") {
  const std::string token =
      rs_token(payload(R"("iss":"https://a","aud":")" + kResource + "\"," + valid_times()));
  CHECK(detail(token, Reason::kWrongIssuer) ==
        R"(iss "https://a" is not accepted (accepted: "https://b" from provider dev))");
}

TEST_CASE("refusal detail: wrong_audience lists the aud values and the accepted audiences") {
  const std::string token =
      rs_token(payload(R"("iss":"https://b","aud":["x","y"],)" + valid_times()));
  CHECK(detail(token, Reason::kWrongAudience) ==
        R"(aud ["x","y"] is not accepted (accepted: "http://127.0.0.1:8000/mcp" (the route's )"
        R"(resource), "client-a"))");
}

TEST_CASE("refusal detail: unknown_kid lists the provider's kids") {
  const std::string token =
      rs_token(payload(iss_aud() + "," + valid_times()), R"({"alg":"RS256","kid":"k9"})");
  CHECK(detail(token, Reason::kUnknownKid) ==
        R"(kid "k9" is not in the JWKS of provider dev (kids: "rsa1", "ec1"))");
  // No kid, and no key fits the algorithm.
  const auto ec_only = parse_jwks(jwks_of({public_jwk(ec_key(), "ec1", "ES256")}));
  REQUIRE(ec_only.keys);
  const std::string no_kid =
      rs_token(payload(iss_aud() + "," + valid_times()), R"({"alg":"RS256"})");
  CHECK(detail(no_kid, Reason::kUnknownKid, test_policy(), ec_only.keys.get()) ==
        R"(the token has no kid and no key of provider dev fits alg "RS256" (kids: "ec1"))");
}

TEST_CASE("refusal detail: expired, not_yet_valid and issued_in_future give times and skew") {
  CHECK(
      detail(rs_token(payload(iss_aud() + "," + times(kNow - 600, kNow - 35))), Reason::kExpired) ==
      "exp 2023-11-14T22:12:45Z is 35 s before now (clock_skew 30 s)");
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times() + R"(,"nbf":)" +
                                std::to_string(kNow + 100))),
               Reason::kNotYetValid) ==
        "nbf 2023-11-14T22:15:00Z is 100 s after now (clock_skew 30 s)");
  CHECK(detail(rs_token(payload(iss_aud() + "," + times(kNow + 100, kNow + 300))),
               Reason::kIssuedInFuture) ==
        "iat 2023-11-14T22:15:00Z is 100 s after now (clock_skew 30 s)");
}

TEST_CASE("refusal detail: algorithm refusals name the alg and what is accepted") {
  const std::string hs = hmac_token("HS256", "secret", R"({"alg":"HS256","kid":"rsa1"})",
                                    payload(iss_aud() + "," + valid_times()));
  CHECK(detail(hs, Reason::kAlgNotAllowed) == R"(alg "HS256" is not accepted (accepted: RS256))");
  // An accepted alg whose kid names a key of another type.
  VerifyPolicy both = test_policy();
  both.algorithms = {"RS256", "ES256"};
  const std::string es = signed_token(ec_key(), "ES256", R"({"alg":"ES256","kid":"rsa1"})",
                                      payload(iss_aud() + "," + valid_times()));
  CHECK(detail(es, Reason::kAlgNotAllowed, both) ==
        R"(alg "ES256" does not fit the key with kid "rsa1" of provider dev (kty RSA alg RS256))");
}

TEST_CASE("refusal detail: unsupported header, bad signature, wrong typ") {
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times()),
                        R"({"alg":"RS256","kid":"rsa1","jku":"https://evil/jwks"})"),
               Reason::kUnsupportedHeader) == "header parameter jku is not supported");
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times()),
                        R"({"alg":"RS256","kid":"rsa1","crit":["b64"],"b64":false})"),
               Reason::kUnsupportedHeader) == "header parameters crit, b64 are not supported");
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times()),
                        R"({"alg":"RS256","kid":"rsa1","cty":"jwt"})"),
               Reason::kUnsupportedHeader) == R"(cty "jwt" (a nested JWT) is not supported)");
  CHECK(
      detail(
          signed_token(other_rsa_key(), "RS256", kHeader, payload(iss_aud() + "," + valid_times())),
          Reason::kBadSignature) ==
      R"(the signature does not verify with the keys of provider dev for kid "rsa1" and alg "RS256")");
  VerifyPolicy strict = test_policy();
  strict.token_type = TokenTypePolicy::kAtJwt;
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times()),
                        R"({"alg":"RS256","kid":"rsa1","typ":"JWT"})"),
               Reason::kWrongTokenType,
               strict) == R"(typ "JWT" is not accepted (accepted: "at+jwt"))");
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times())), Reason::kWrongTokenType,
               strict) == R"(typ (absent) is not accepted (accepted: "at+jwt"))");
}

TEST_CASE("refusal detail: missing_claim says which claim and why it is required") {
  CHECK(detail(rs_token(payload(R"("aud":")" + kResource + "\"," + valid_times())),
               Reason::kMissingClaim) ==
        R"(claim "iss" is missing (accepted: "https://b" from provider dev))");
  CHECK(detail(rs_token(payload(iss_aud() + R"(,"iat":)" + std::to_string(kNow))),
               Reason::kMissingClaim) == R"(claim "exp" is missing (require_exp is on))");
  VerifyPolicy tenant = test_policy();
  tenant.required_claims = {"tenant", "org"};
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times() + R"(,"org":"o")")),
               Reason::kMissingClaim,
               tenant) == R"(claim "tenant" is missing (required_claims: "tenant", "org"))");
  VerifyPolicy lifetime = test_policy();
  lifetime.max_lifetime_seconds = 3600;
  CHECK(detail(rs_token(payload(iss_aud() + R"(,"exp":)" + std::to_string(kNow + 60))),
               Reason::kMissingClaim, lifetime) ==
        R"(claims "iat" and "nbf" are both missing (max_lifetime 3600 s needs one))");
}

TEST_CASE("refusal detail: invalid_claim shows the value and the expected type") {
  CHECK(detail(rs_token(payload(R"("iss":"https://b","aud":42,)" + valid_times())),
               Reason::kInvalidClaim) ==
        R"(claim "aud" is 42, not a string or an array of strings)");
  CHECK(detail(rs_token(payload(iss_aud() + R"(,"iat":1,"exp":"soon")")), Reason::kInvalidClaim) ==
        R"(claim "exp" is "soon", not a NumericDate)");
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times() + R"(,"scp":[1])")),
               Reason::kInvalidClaim) ==
        R"(claim "scp" is [1], not a string or an array of strings)");
}

TEST_CASE("refusal detail: lifetime_too_long, too_large and malformed") {
  VerifyPolicy lifetime = test_policy();
  lifetime.max_lifetime_seconds = 3600;
  CHECK(detail(rs_token(payload(iss_aud() + "," + times(kNow, kNow + 86400))),
               Reason::kLifetimeTooLong, lifetime) == "exp - iat is 86400 s (max_lifetime 3600 s)");
  VerifyPolicy small = test_policy();
  small.max_token_bytes = 100;
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times())), Reason::kTooLarge, small)
            .starts_with("the token has "));
  CHECK(detail(rs_token(payload(iss_aud() + "," + valid_times())), Reason::kTooLarge, small)
            .ends_with(" bytes (max_token_bytes 100)"));
  CHECK(detail("abc.def", Reason::kMalformed) == "dot-separated segments: 2 (a compact JWS has 3)");
  CHECK(detail(base64url_encode("not json") + ".e30.c2ln", Reason::kMalformed) ==
        "the header is not a base64url-encoded JSON object");
}

TEST_CASE("refusal detail: hostile claim values are escaped and bounded") {
  // Newlines, an escape sequence, a NUL-free 10 KB string, non-ASCII.
  const std::string long_value(10240, 'A');
  std::string text =
      detail(rs_token(payload(R"("iss":"evil\n2026-01-01 info [authn] forged\u001b[31m",)"
                              R"("aud":")" +
                              kResource + "\"," + valid_times())),
             Reason::kWrongIssuer);
  CHECK(text == R"(iss "evil\n2026-01-01 info [authn] forged\u001B[31m" is not accepted )"
                R"((accepted: "https://b" from provider dev))");
  text = detail(rs_token(payload(R"("iss":")" + long_value + R"(","aud":")" + kResource + "\"," +
                                 valid_times())),
                Reason::kWrongIssuer);
  CHECK(text.size() < 300);
  CHECK(text.find("\"" + std::string(RefusalDetail::kMaxValueBytes, 'A') + "\"... (10240 bytes)") !=
        std::string::npos);
  // A huge array of mixed, non-string values.
  std::string items = "[";
  for (int i = 0; i < 10000; ++i)
    items += (i ? "," : "") + std::string(R"("x)") + std::to_string(i) + "\"";
  items += "]";
  VerifyPolicy roomy = test_policy();
  roomy.max_token_bytes = 1 << 20;
  text = detail(rs_token(payload(R"("iss":"https://b","aud":)" + items + "," + valid_times())),
                Reason::kWrongAudience, roomy);
  CHECK(text.starts_with(
      R"(aud ["x0","x1","x2","x3","x4","x5","x6","x7",...] (10000 items) is not)"));
  text =
      detail(rs_token(payload(R"("iss":"https://b","aud":[1,{"a":"b"},[1,2],null,true,"\u00e9"],)" +
                              valid_times())),
             Reason::kInvalidClaim);
  CHECK(
      text ==
      R"(claim "aud" is [1,{...} (an object),[...] (2 items),null,true,"\u00E9"], not a string or )"
      R"(an array of strings)");
}

TEST_CASE("RefusalDetail::quote: multi-byte characters are never cut in half") {
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";  // é, 2 bytes each: 200 bytes
  mag::JsonPtr value = mag::json_own(json_stringn(accents.data(), accents.size()));
  const std::string text = RefusalDetail::quote(value.get());
  // 64 whole characters (128 bytes), escaped.
  std::string expected = "\"";
  for (int i = 0; i < 64; ++i) expected += "\\u00E9";
  CHECK(text == expected + "\"... (200 bytes)");
  // Not UTF-8 (a configuration or JWKS string): the \xNN form.
  CHECK(RefusalDetail::quote(std::string_view("a\xff\n", 3)) == R"("a\xff\x0a")");
}
