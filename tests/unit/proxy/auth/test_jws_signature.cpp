// The signature primitive (proxy/auth/jws_signature.h) that verify_jwt uses,
// against Project Wycheproof primitive vectors, and EdDSA end to end.
#include <doctest/doctest.h>
#include <jansson.h>

#include <fstream>
#include <sstream>

#include "common/json/json_text.h"
#include "proxy/auth/jwks.h"
#include "proxy/auth/jws_signature.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/auth/jwt_verifier.h"
#include "tests/unit/jwt_test_util.h"

using namespace mag::auth;
using namespace mag::auth::testing;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

struct Counts {
  int valid_accepted = 0, invalid_rejected = 0, acceptable = 0, skipped_groups = 0;
};

// Runs one Wycheproof primitive file: the key goes through parse_jwks (so the
// loader's policies apply), the signature through verify_jws_signature.
// A missing or empty file fails the test case with its path.
bool run_vectors(const std::string& file, const char* jwk_member, const std::string& alg,
                 Counts* counts) {
  const std::string path = std::string(MAG_TESTDATA_DIR) + "/wycheproof/" + file;
  const std::string text = slurp(path);
  if (text.empty()) FAIL("Wycheproof vectors missing or empty: " << path);
  json_error_t err;
  mag::JsonPtr root(json_loadb(text.data(), text.size(), 0, &err));
  REQUIRE(root);
  size_t gi;
  json_t* group;
  json_array_foreach(json_object_get(root.get(), "testGroups"), gi, group) {
    json_t* jwk = json_object_get(group, jwk_member);
    if (!json_is_object(jwk)) {
      ++counts->skipped_groups;
      continue;
    }
    const std::string jwks =
        "{\"keys\":[" + mag::json::to_json_string(jwk, JSON_COMPACT).value() + "]}";
    auto parsed = parse_jwks(jwks);
    if (!parsed.keys) {
      // The loader refused the key (e.g. under 2048 bits): nothing can verify.
      ++counts->skipped_groups;
      continue;
    }
    EVP_PKEY* key = parsed.keys->keys().at(0).pkey.get();
    size_t ti;
    json_t* test;
    json_array_foreach(json_object_get(group, "tests"), ti, test) {
      const std::string result = json_string_value(json_object_get(test, "result"));
      const std::string msg = unhex(json_string_value(json_object_get(test, "msg")));
      const std::string sig = unhex(json_string_value(json_object_get(test, "sig")));
      const bool ok = verify_jws_signature(alg, key, msg, sig);
      const int tc = static_cast<int>(json_integer_value(json_object_get(test, "tcId")));
      if (result == "valid") {
        CHECK_MESSAGE(ok, file << " tc" << tc << " valid but rejected");
        counts->valid_accepted += ok;
      } else if (result == "invalid") {
        CHECK_MESSAGE(!ok, file << " tc" << tc << " invalid but accepted");
        counts->invalid_rejected += !ok;
      } else {
        ++counts->acceptable;  // either outcome is allowed; it must just not crash
      }
    }
  }
  MESSAGE("Wycheproof " << file << ": ran "
                        << counts->valid_accepted + counts->invalid_rejected + counts->acceptable
                        << " vectors, " << counts->valid_accepted << " valid accepted, "
                        << counts->invalid_rejected << " invalid rejected, " << counts->acceptable
                        << " acceptable, " << counts->skipped_groups << " groups skipped");
  return true;
}

}  // namespace

TEST_CASE("jws_signature: Wycheproof ECDSA P1363 vectors (ES256/384/512)") {
  const std::pair<const char*, const char*> files[] = {
      {"ecdsa_secp256r1_sha256_p1363_test.json", "ES256"},
      {"ecdsa_secp384r1_sha384_p1363_test.json", "ES384"},
      {"ecdsa_secp521r1_sha512_p1363_test.json", "ES512"},
  };
  for (const auto& [file, alg] : files) {
    Counts c;
    if (run_vectors(file, "publicKeyJwk", alg, &c)) {
      CHECK(c.valid_accepted > 0);
      CHECK(c.invalid_rejected > 50);
    }
  }
}

TEST_CASE("jws_signature: Wycheproof RSA PKCS#1 v1.5 vectors (RS256/384/512)") {
  const std::pair<const char*, const char*> files[] = {
      {"rsa_signature_2048_sha256_test.json", "RS256"},
      {"rsa_signature_2048_sha384_test.json", "RS384"},
      {"rsa_signature_2048_sha512_test.json", "RS512"},
  };
  for (const auto& [file, alg] : files) {
    Counts c;
    if (run_vectors(file, "keyJwk", alg, &c)) {
      CHECK(c.valid_accepted > 0);
      CHECK(c.invalid_rejected > 50);
    }
  }
}

TEST_CASE("jws_signature: Wycheproof RSA-PSS vectors (PS256/384)") {
  const std::pair<const char*, const char*> files[] = {
      {"rsa_pss_2048_sha256_mgf1_32_test.json", "PS256"},
      {"rsa_pss_2048_sha384_mgf1_48_test.json", "PS384"},
  };
  for (const auto& [file, alg] : files) {
    Counts c;
    if (run_vectors(file, "publicKeyJwk", alg, &c)) {
      CHECK(c.valid_accepted > 0);
      CHECK(c.invalid_rejected > 10);
    }
  }
}

TEST_CASE("jws_signature: Wycheproof Ed25519 vectors (EdDSA)") {
  Counts c;
  if (run_vectors("ed25519_test.json", "publicKeyJwk", "EdDSA", &c)) {
    CHECK(c.valid_accepted > 0);
    CHECK(c.invalid_rejected > 50);
  }
}

TEST_CASE("jws_signature: keys and algorithms must match") {
  const TestKey& rsa = rsa_key();
  const TestKey ed = make_ed25519_key();
  const std::string msg = "hello";
  auto rsa_jwks = parse_jwks(jwks_of({public_jwk(rsa, "r")}));
  auto ed_jwks = parse_jwks(jwks_of({public_jwk(ed, "e")}));
  REQUIRE(rsa_jwks.keys);
  REQUIRE(ed_jwks.keys);
  EVP_PKEY* rsa_pub = rsa_jwks.keys->keys()[0].pkey.get();
  EVP_PKEY* ed_pub = ed_jwks.keys->keys()[0].pkey.get();
  const std::string rs = sign_raw(rsa, "RS256", msg);
  const std::string eds = sign_raw(ed, "EdDSA", msg);
  CHECK(verify_jws_signature("RS256", rsa_pub, msg, rs));
  CHECK_FALSE(verify_jws_signature("RS256", rsa_pub, msg + "!", rs));
  CHECK_FALSE(verify_jws_signature("PS256", rsa_pub, msg, rs));
  CHECK_FALSE(verify_jws_signature("RS384", rsa_pub, msg, rs));
  CHECK(verify_jws_signature("EdDSA", ed_pub, msg, eds));
  CHECK_FALSE(verify_jws_signature("EdDSA", ed_pub, msg, eds.substr(0, 63)));
  CHECK_FALSE(verify_jws_signature("EdDSA", ed_pub, msg, eds + '\0'));
  CHECK_FALSE(verify_jws_signature("EdDSA", rsa_pub, msg, eds));
  CHECK_FALSE(verify_jws_signature("RS256", ed_pub, msg, rs));
  CHECK_FALSE(verify_jws_signature("HS256", rsa_pub, msg, rs));
  CHECK_FALSE(verify_jws_signature("RS256", nullptr, msg, rs));
  // RS signatures must be exactly the modulus length.
  CHECK_FALSE(verify_jws_signature("RS256", rsa_pub, msg, std::string(1, '\0') + rs));
}

TEST_CASE("jws_signature: EdDSA tokens through verify_jwt; OKP keys loaded from a JWKS") {
  const TestKey ed = make_ed25519_key();
  auto parsed = parse_jwks(jwks_of({public_jwk(ed, "ed1")}));
  REQUIRE(parsed.keys);
  REQUIRE(parsed.keys->keys().size() == 1);
  CHECK(parsed.keys->keys()[0].kty == "OKP");
  CHECK(parsed.keys->keys()[0].fingerprint.size() == 64);
  VerifyPolicy policy;
  policy.issuer = "https://issuer.test";
  policy.audiences = {"api://svc"};
  policy.algorithms = {"EdDSA"};
  const int64_t now = 1700000000;
  const std::string payload =
      R"({"iss":"https://issuer.test","aud":"api://svc","sub":"u1","exp":1700000300})";
  const std::string header = R"({"alg":"EdDSA","kid":"ed1"})";
  const std::string token = signed_token(ed, "EdDSA", header, payload);
  auto ok = verify_jwt(token, *parsed.keys, policy, now);
  CHECK(ok.reason == Reason::kOk);
  CHECK(ok.claims.subject == "u1");
  CHECK(ok.key_fingerprint == parsed.keys->keys()[0].fingerprint);

  SUBCASE("EdDSA not in the allow-list") {
    policy.algorithms = {"RS256"};
    CHECK(verify_jwt(token, *parsed.keys, policy, now).reason == Reason::kAlgNotAllowed);
  }
  SUBCASE("a flipped signature bit") {
    std::string bad = token;
    bad.back() = bad.back() == 'A' ? 'Q' : 'A';
    CHECK(verify_jwt(bad, *parsed.keys, policy, now).reason != Reason::kOk);
  }
  SUBCASE("another Ed25519 key with the same kid") {
    const TestKey other = make_ed25519_key();
    auto other_set = parse_jwks(jwks_of({public_jwk(other, "ed1")}));
    REQUIRE(other_set.keys);
    CHECK(verify_jwt(token, *other_set.keys, policy, now).reason == Reason::kBadSignature);
  }
  SUBCASE("an RSA key cannot verify an EdDSA token") {
    auto rsa_set = parse_jwks(jwks_of({public_jwk(rsa_key(), "ed1")}));
    REQUIRE(rsa_set.keys);
    CHECK(verify_jwt(token, *rsa_set.keys, policy, now).reason == Reason::kAlgNotAllowed);
  }
}

TEST_CASE("jws_signature: unusable OKP keys are skipped") {
  const TestKey ed = make_ed25519_key();
  const std::string x = base64url_encode(ed25519_public_bytes(ed));
  auto check_skipped = [](const std::string& jwk) {
    auto parsed = parse_jwks(jwks_of({jwk, public_jwk(rsa_key(), "good")}));
    REQUIRE(parsed.keys);
    CHECK(parsed.keys->keys().size() == 1);
    CHECK(parsed.keys->skipped.size() == 1);
  };
  check_skipped(R"({"kty":"OKP","crv":"Ed448","kid":"a","x":")" + x + "\"}");
  check_skipped(R"({"kty":"OKP","crv":"X25519","kid":"a","x":")" + x + "\"}");
  check_skipped(R"({"kty":"OKP","crv":"Ed25519","kid":"a","x":")" + x.substr(0, 40) + "\"}");
  check_skipped(R"({"kty":"OKP","crv":"Ed25519","kid":"a"})");
  check_skipped(R"({"kty":"OKP","crv":"Ed25519","kid":"a","alg":"ES256","x":")" + x + "\"}");
  check_skipped(R"({"kty":"OKP","crv":"Ed25519","kid":"a","use":"enc","x":")" + x + "\"}");
}

TEST_CASE("jws_signature: key fingerprints identify key material, not the kid") {
  const std::string a = public_jwk(rsa_key(), "k1");
  const std::string b = public_jwk(other_rsa_key(), "k1");
  auto first = parse_jwks(jwks_of({a}));
  auto same = parse_jwks(jwks_of({public_jwk(rsa_key(), "renamed", "RS256")}));
  auto other = parse_jwks(jwks_of({b}));
  REQUIRE(first.keys);
  REQUIRE(same.keys);
  REQUIRE(other.keys);
  CHECK(first.keys->keys()[0].fingerprint == same.keys->keys()[0].fingerprint);
  CHECK(first.keys->keys()[0].fingerprint != other.keys->keys()[0].fingerprint);
}

// verify_jws_signature reuses one prepared OpenSSL context per (key,
// algorithm) and thread: a failed check must not change the next
// result, PKCS#1 v1.5 and PSS on the same key must not share a context, and
// more keys than the per-thread cache holds must still verify correctly.
TEST_CASE("jws_signature: prepared contexts are reused without changing any result") {
  const TestKey& rsa = rsa_key();
  auto rsa_jwks = parse_jwks(jwks_of({public_jwk(rsa, "r")}));
  REQUIRE(rsa_jwks.keys);
  EVP_PKEY* rsa_pub = rsa_jwks.keys->keys()[0].pkey.get();
  const std::string rs = sign_raw(rsa, "RS256", "m");
  const std::string ps = sign_raw(rsa, "PS256", "m");
  for (int round = 0; round < 3; ++round) {
    CHECK(verify_jws_signature("RS256", rsa_pub, "m", rs));
    CHECK_FALSE(verify_jws_signature("RS256", rsa_pub, "m!", rs));
    CHECK_FALSE(verify_jws_signature("RS256", rsa_pub, "m", ps));
    CHECK(verify_jws_signature("PS256", rsa_pub, "m", ps));
    CHECK_FALSE(verify_jws_signature("PS256", rsa_pub, "m", rs));
    CHECK_FALSE(verify_jws_signature("RS512", rsa_pub, "m", rs));
  }
  // 40 EC keys (the per-thread cache holds 32), each used twice, in turn:
  // every key accepts only its own signature.
  std::vector<TestKey> keys;
  std::vector<JwksParseResult> sets;
  for (int i = 0; i < 40; ++i) {
    keys.push_back(make_ec_key("P-256"));
    sets.push_back(parse_jwks(jwks_of({public_jwk(keys.back(), "e")})));
    REQUIRE(sets.back().keys);
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) {
      EVP_PKEY* pub = sets[i].keys->keys()[0].pkey.get();
      const std::string msg = "message " + std::to_string(i);
      CHECK(verify_jws_signature("ES256", pub, msg, sign_raw(keys[i], "ES256", msg)));
      const TestKey& other = keys[(i + 1) % keys.size()];
      CHECK_FALSE(verify_jws_signature("ES256", pub, msg, sign_raw(other, "ES256", msg)));
    }
  }
}

// base64url_decode checks canonical form on the final partial group only:
// over every 2- and 3-character tail, exactly the encodings of
// the 256 one-byte and 65 536 two-byte values are accepted, each decoding
// to bytes that encode back to the input.
TEST_CASE("jwt_compact: base64url_decode accepts exactly the canonical tails") {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t two = 0, three = 0;
  for (char a : alphabet) {
    for (char b : alphabet) {
      const std::string s = std::string("QUJD") + a + b;
      if (auto d = base64url_decode(s)) {
        ++two;
        CHECK(d->size() == 4);
        CHECK(base64url_encode(*d) == s);
      }
      for (char c : alphabet) {
        const std::string t = std::string("QUJD") + a + b + c;
        if (auto d = base64url_decode(t)) {
          ++three;
          if (base64url_encode(*d) != t) FAIL("non-canonical accepted: " << t);
        }
      }
    }
  }
  CHECK(two == 256);
  CHECK(three == 65536);
  CHECK_FALSE(base64url_decode("QUJD="));
  CHECK_FALSE(base64url_decode("QUJ+"));
  CHECK_FALSE(base64url_decode("QUJDQ"));
  CHECK(base64url_decode("") == std::string());
}
