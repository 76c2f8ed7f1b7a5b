// Development-only token minting: what it mints must pass the real verifier,
// and the committed dev keys must belong together.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/tools/dev_token.h"

using namespace mag::auth;

namespace {

constexpr int64_t kNow = 1700000000;

DevTokenRequest request() {
  DevTokenRequest r;
  r.issuer = "http://localhost:8000/dev-issuer";
  r.audience = "http://localhost:8000/mcp";
  r.subject = "alice";
  r.scopes = "math:add mcp:tools";
  r.client_id = "dev-client";
  r.ttl_seconds = 3600;
  r.now_seconds = kNow;
  return r;
}

VerifyPolicy policy() {
  VerifyPolicy p;
  p.issuer = "http://localhost:8000/dev-issuer";
  p.audiences = {"http://localhost:8000/mcp"};
  return p;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const GeneratedKey& generated() {
  static const GeneratedKey k = generate_rsa_jwk("test-key");
  return k;
}

}  // namespace

TEST_CASE("dev_token: a minted token verifies with the generated public JWKS") {
  const GeneratedKey& key = generated();
  REQUIRE(!key.private_jwk.empty());
  auto jwks = parse_jwks(key.public_jwks);
  REQUIRE_MESSAGE(jwks.keys, jwks.error);
  CHECK(jwks.keys->keys()[0].kid == "test-key");
  CHECK(jwks.keys->keys()[0].alg == "RS256");
  CHECK(key.public_jwks.find("\"d\"") == std::string::npos);

  std::string error;
  const std::string token = mint_dev_token_with_jwk(key.private_jwk, request(), &error);
  REQUIRE_MESSAGE(!token.empty(), error);
  const VerifyResult r = verify_jwt(token, *jwks.keys, policy(), kNow + 10);
  REQUIRE(reason_code(r.reason) == "ok");
  CHECK(r.claims.subject == "alice");
  CHECK(r.claims.client_id == "dev-client");
  CHECK(r.claims.scopes == std::vector<std::string>{"math:add", "mcp:tools"});
  CHECK(r.claims.expires_at == kNow + 3600);
  CHECK(r.claims.kid == "test-key");
  CHECK(verify_jwt(token, *jwks.keys, policy(), kNow + 3600 + 60).reason == Reason::kExpired);

  // The header says what it is.
  const auto header = base64url_decode(token.substr(0, token.find('.')));
  REQUIRE(header);
  CHECK(header->find("\"typ\":\"at+jwt\"") != std::string::npos);
}

TEST_CASE("dev_token: kid override and refused requests") {
  const GeneratedKey& key = generated();
  std::string error;
  DevTokenRequest r = request();
  r.kid = "other";
  const std::string token = mint_dev_token_with_jwk(key.private_jwk, r, &error);
  REQUIRE(!token.empty());
  auto jwks = parse_jwks(key.public_jwks);
  REQUIRE(jwks.keys);
  CHECK(verify_jwt(token, *jwks.keys, policy(), kNow).reason == Reason::kUnknownKid);

  struct Bad {
    const char* name;
    std::string jwk;
    DevTokenRequest req;
  };
  DevTokenRequest no_iss = request(), no_aud = request(), bad_ttl = request();
  no_iss.issuer.clear();
  no_aud.audience.clear();
  bad_ttl.ttl_seconds = 0;
  const std::vector<Bad> bad = {
      {"public key only", key.public_jwks, request()},
      {"not json", "nope", request()},
      {"EC key", R"({"kty":"EC","crv":"P-256","d":"AAAA"})", request()},
      {"missing issuer", key.private_jwk, no_iss},
      {"missing audience", key.private_jwk, no_aud},
      {"zero ttl", key.private_jwk, bad_ttl},
  };
  for (const auto& b : bad) {
    CAPTURE(b.name);
    error.clear();
    CHECK(mint_dev_token_with_jwk(b.jwk, b.req, &error).empty());
    CHECK(!error.empty());
  }
  DevTokenRequest missing = request();
  missing.key_file = "/nonexistent/key.json";
  CHECK(mint_dev_token(missing, &error).empty());
  CHECK(error.find("cannot open") != std::string::npos);
}

TEST_CASE("dev_token: the committed development keys belong together") {
  const std::string dir = std::string(MAG_SOURCE_DIR) + "/config/dev/";
  auto jwks = parse_jwks(slurp(dir + "jwks.json"));
  REQUIRE_MESSAGE(jwks.keys, jwks.error);
  REQUIRE(jwks.keys->keys().size() == 1);
  CHECK(jwks.keys->keys()[0].kid == "dev-key-1");
  CHECK(jwks.keys->keys()[0].key_bits == 2048);

  DevTokenRequest r = request();
  r.key_file = dir + "dev-signing-key.jwk.json";
  std::string error;
  const std::string token = mint_dev_token(r, &error);
  REQUIRE_MESSAGE(!token.empty(), error);
  const VerifyResult v = verify_jwt(token, *jwks.keys, policy(), kNow);
  CHECK(reason_code(v.reason) == "ok");
  CHECK(v.claims.kid == "dev-key-1");
}

TEST_CASE("dev_token: ttl parsing") {
  CHECK(parse_ttl_seconds("1h") == 3600);
  CHECK(parse_ttl_seconds("30m") == 1800);
  CHECK(parse_ttl_seconds("45s") == 45);
  CHECK(parse_ttl_seconds("2d") == 172800);
  CHECK(parse_ttl_seconds("3600") == 3600);
  for (const char* bad : {"", "h", "0", "-5", "1.5h", "1w", "99999999999999", "1 h"}) {
    CAPTURE(bad);
    CHECK(parse_ttl_seconds(bad) == -1);
  }
}
