// JWKS parsing: which keys are usable, which are skipped (and why), and which
// documents are refused outright (JWT-KEY-* in docs/security.md).
#include <doctest/doctest.h>

#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_compact.h"
#include "tests/unit/jwt_test_util.h"

using namespace mag::auth;
using namespace mag::auth::testing;

namespace {

bool skipped_with(const JwksParseResult& r, const std::string& fragment) {
  if (!r.keys) return r.error.find(fragment) != std::string::npos;
  for (const auto& s : r.keys->skipped) {
    if (s.find(fragment) != std::string::npos) return true;
  }
  return false;
}

// A JWKS whose first key is `bad` and second a good EC key, so the document
// stays usable and `bad` must show up in `skipped`.
JwksParseResult with_good_key(const std::string& bad) {
  return parse_jwks(jwks_of({bad, public_jwk(ec_key(), "good")}));
}

std::string replace_member(std::string jwk, const std::string& name, const std::string& value) {
  const std::string key = "\"" + name + "\":\"";
  const size_t start = jwk.find(key);
  REQUIRE(start != std::string::npos);
  const size_t end = jwk.find('"', start + key.size());
  return jwk.replace(start + key.size(), end - start - key.size(), value);
}

}  // namespace

TEST_CASE("jwks: RSA and EC keys are loaded with their metadata") {
  const auto r = parse_jwks(jwks_of({public_jwk(rsa_key(), "r1", "RS256", R"("use":"sig")"),
                                     public_jwk(ec_key(), "e1", "", R"("key_ops":["verify"])")}));
  REQUIRE_MESSAGE(r.keys, r.error);
  REQUIRE(r.keys->keys().size() == 2);
  const auto& rsa = r.keys->keys()[0];
  CHECK(rsa.kid == "r1");
  CHECK(rsa.kty == "RSA");
  CHECK(rsa.alg == "RS256");
  CHECK(rsa.key_bits == 2048);
  CHECK(rsa.jwk != nullptr);
  const auto& ec = r.keys->keys()[1];
  CHECK(ec.kty == "EC");
  CHECK(ec.crv == "P-256");
  CHECK(ec.alg.empty());
  CHECK(r.keys->skipped.empty());
}

TEST_CASE("jwks: find() matches the kid, kid-less keys, or everything for an empty kid") {
  const auto r = parse_jwks(jwks_of(
      {public_jwk(rsa_key(), "r1"), public_jwk(ec_key(), "e1"), public_jwk(other_rsa_key(), "")}));
  REQUIRE(r.keys);
  CHECK(r.keys->find("r1").size() == 2);  // r1 and the kid-less key
  CHECK(r.keys->find("zz").size() == 1);  // only the kid-less key
  CHECK(r.keys->find("").size() == 3);
}

TEST_CASE("jwks: unsafe or unusable keys are skipped with a reason") {
  const TestKey rsa1024 = make_rsa_key(1024);
  const TestKey rsa_e3 = make_rsa_key(2048, 3);
  const std::string rsa = public_jwk(rsa_key(), "r");
  const std::string ec = public_jwk(ec_key(), "e");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {public_jwk(rsa1024, "small"), "under 2048 bits"},
      {public_jwk(rsa_e3, "e3"), "exponent is not 65537"},
      {replace_member(rsa, "e", "AQ"), "exponent is not 65537"},  // e = 1
      {R"({"kty":"oct","kid":"hs","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})", "oct"},
      {public_jwk(rsa_key(), "enc", "", R"("use":"enc")"), "use"},
      {public_jwk(rsa_key(), "ops", "", R"("key_ops":["encrypt"])"), "key_ops"},
      {public_jwk(rsa_key(), "ops2", "", R"("key_ops":"verify")"), "key_ops"},
      {R"({"kty":"OKP","crv":"Ed448","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
       "unsupported OKP curve"},
      {R"({"kty":"rsa","n":"AQAB","e":"AQAB"})", "unsupported kty"},
      {R"({"n":"AQAB","e":"AQAB"})", "kty"},
      {R"({"kty":"RSA","x5c":["AAAA"]})", "n/e"},
      {replace_member(rsa, "n", "A=AA"), "n/e"},  // would abort inside cjose's decoder
      {replace_member(rsa, "n", "Aw"), "under 2048 bits"},
      {public_jwk(rsa_key(), "alg", "ES256"), "does not fit"},
      {public_jwk(rsa_key(), "alg2", "RSA-OAEP"), "unsupported alg"},
      {public_jwk(ec_key(), "alg3", "ES384"), "does not fit curve"},
      {public_jwk(ec_key(), "alg4", "ES521"), "unsupported alg"},
      {replace_member(ec, "crv", "secp256k1"), "unsupported EC curve"},
      {replace_member(ec, "crv", "P-384"), "coordinate length"},
      {replace_member(ec, "x", base64url_encode(std::string(31, '\x01'))), "coordinate length"},
      {replace_member(ec, "y", base64url_encode(std::string(32, '\x01'))), "not on the curve"},
      {R"({"kty":"EC","crv":"P-256","kid":5})", "kid is not a string"},
      {"[]", "not an object"},
  };
  for (const auto& [jwk, reason] : cases) {
    CAPTURE(jwk);
    CAPTURE(reason);
    const auto r = with_good_key(jwk);
    REQUIRE_MESSAGE(r.keys, r.error);
    CHECK(r.keys->keys().size() == 1);
    CHECK(r.keys->keys()[0].kid == "good");
    CHECK(skipped_with(r, reason));
  }
}

TEST_CASE("jwks: private members are never passed on") {
  // A JWKS that (wrongly) publishes a private key still yields a public-only key.
  const std::string jwk = public_jwk(rsa_key(), "r", "", R"("d":"AQAB","p":"AQAB","q":"AQAB")");
  const auto r = parse_jwks(jwks_of({jwk}));
  REQUIRE_MESSAGE(r.keys, r.error);
  cjose_err err{};
  char* json = cjose_jwk_to_json(r.keys->keys()[0].jwk.get(), true, &err);
  REQUIRE(json != nullptr);
  CHECK(std::string(json).find("\"d\"") == std::string::npos);
  cjose_get_dealloc()(json);
}

TEST_CASE("jwks: documents that are refused as a whole") {
  const std::string good = public_jwk(rsa_key(), "r");
  std::vector<std::string> many(101, public_jwk(ec_key(), ""));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"", "not valid JSON"},
      {"[]", "not an object"},
      {R"({"keys":{}})", "not an object"},
      {good, "not an object"},  // a single JWK, not a set
      {R"({"keys":[]})", "no usable key"},
      {jwks_of({R"({"kty":"oct","k":"AAAA"})"}), "no usable key"},
      {jwks_of({public_jwk(rsa_key(), "same"), public_jwk(ec_key(), "same")}), "duplicate kid"},
      {R"({"keys":[],"keys":[)" + good + "]}", "not valid JSON"},  // duplicate member
      {jwks_of(many), "more than 100"},
      {jwks_of({good}) + std::string(kMaxJwksBytes, ' '), "1 MiB"},
  };
  for (const auto& [doc, reason] : cases) {
    CAPTURE(doc.substr(0, 80));
    const auto r = parse_jwks(doc);
    CHECK(r.keys == nullptr);
    CHECK_MESSAGE(r.error.find(reason) != std::string::npos, r.error);
  }
  std::vector<std::string> hundred(100, public_jwk(ec_key(), ""));
  const auto ok = parse_jwks(jwks_of(hundred));
  REQUIRE_MESSAGE(ok.keys, ok.error);
  CHECK(ok.keys->keys().size() == 100);
}

TEST_CASE("jwks: skipped kids are printable and short in the reasons") {
  const auto r = with_good_key(R"({"kty":"oct","kid":"a\r\nb)" + std::string(200, 'x') + R"("})");
  REQUIRE(r.keys);
  REQUIRE(r.keys->skipped.size() == 1);
  const std::string& s = r.keys->skipped[0];
  CHECK(s.find('\r') == std::string::npos);
  CHECK(s.find('\n') == std::string::npos);
  CHECK(s.size() < 200);
}
