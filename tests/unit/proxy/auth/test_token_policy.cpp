// Token-validation policy additions: typ, required claims, max lifetime,
// require_exp; their config keys; discovery and Cache-Control helpers; and
// the verified-token cache as KeyProvider::verify uses it.
#include <doctest/doctest.h>
#include <event2/event.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "proxy/auth/authenticator.h"
#include "proxy/auth/key_provider.h"
#include "proxy/auth/provider_view.h"
#include "proxy/config/config.h"
#include "tests/unit/jwt_test_util.h"

using namespace mag::auth;
using namespace mag::auth::testing;

namespace {

constexpr int64_t kNow = 1700000000;

VerifyPolicy base_policy() {
  VerifyPolicy p;
  p.issuer = "https://issuer.test";
  p.audiences = {"api://svc"};
  p.algorithms = {"RS256"};
  return p;
}

std::shared_ptr<const KeySet> keys() {
  static auto set = parse_jwks(jwks_of({public_jwk(rsa_key(), "rsa1")})).keys;
  return set;
}

std::string token(const std::string& header, const std::string& payload) {
  return signed_token(rsa_key(), "RS256", header, payload);
}

const std::string kGood =
    R"({"iss":"https://issuer.test","aud":"api://svc","sub":"u1","iat":1699999990,"exp":1700000300})";

Reason verify_with(const VerifyPolicy& p, const std::string& header,
                   const std::string& payload = kGood) {
  return verify_jwt(token(header, payload), *keys(), p, kNow).reason;
}

std::string config_with(const std::string& provider_extra) {
  return "listeners:\n  - address: 127.0.0.1:8000\nproviders:\n  idp:\n"
         "    issuer: https://idp.example.com\n    jwks_uri: https://idp.example.com/jwks\n" +
         provider_extra +
         "upstreams:\n  backend:\n    url: http://127.0.0.1:9000\n"
         "routes:\n  - path_prefix: /mcp\n    upstream: backend\n"
         "    resource: https://gw.example.com/mcp\n";
}

}  // namespace

TEST_CASE("token_policy: typ (RFC 9068 / RFC 8725 cross-JWT confusion, JWT-HDR-15)") {
  VerifyPolicy p = base_policy();
  SUBCASE("default: absent, JWT and at+jwt in any case, with or without application/") {
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1"})") == Reason::kOk);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"JWT"})") == Reason::kOk);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"at+jwt"})") == Reason::kOk);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"application/AT+JWT"})") ==
          Reason::kOk);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"id_token"})") ==
          Reason::kWrongTokenType);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"JOSE+JSON"})") ==
          Reason::kWrongTokenType);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"dpop+jwt"})") ==
          Reason::kWrongTokenType);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":1})") == Reason::kMalformed);
  }
  SUBCASE("strict at+jwt") {
    p.token_type = TokenTypePolicy::kAtJwt;
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"at+jwt"})") == Reason::kOk);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"JWT"})") == Reason::kWrongTokenType);
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1"})") == Reason::kWrongTokenType);
  }
  SUBCASE("any") {
    p.token_type = TokenTypePolicy::kAny;
    CHECK(verify_with(p, R"({"alg":"RS256","kid":"rsa1","typ":"id_token"})") == Reason::kOk);
  }
}

TEST_CASE("token_policy: required claims, require_exp, max_lifetime") {
  VerifyPolicy p = base_policy();
  const std::string h = R"({"alg":"RS256","kid":"rsa1"})";
  SUBCASE("required claims") {
    p.required_claims = {"sub", "jti"};
    CHECK(verify_with(p, h) == Reason::kMissingClaim);
    CHECK(verify_with(p, h,
                      R"({"iss":"https://issuer.test","aud":"api://svc","sub":"u1","jti":"j",)"
                      R"("exp":1700000300})") == Reason::kOk);
  }
  SUBCASE("exp is required by default, optional when configured") {
    const std::string no_exp = R"({"iss":"https://issuer.test","aud":"api://svc","sub":"u1"})";
    CHECK(verify_with(p, h, no_exp) == Reason::kMissingClaim);
    p.require_exp = false;
    auto r = verify_jwt(token(h, no_exp), *keys(), p, kNow);
    CHECK(r.reason == Reason::kOk);
    CHECK(r.claims.expires_at == 0);
    // A present exp is still enforced.
    CHECK(
        verify_with(p, h, R"({"iss":"https://issuer.test","aud":"api://svc","exp":1699990000})") ==
        Reason::kExpired);
  }
  SUBCASE("max_lifetime from iat, else nbf") {
    p.max_lifetime_seconds = 310;
    CHECK(verify_with(p, h) == Reason::kOk);  // 1700000300 - 1699999990 = 310
    p.max_lifetime_seconds = 309;
    CHECK(verify_with(p, h) == Reason::kLifetimeTooLong);
    CHECK(verify_with(p, h,
                      R"({"iss":"https://issuer.test","aud":"api://svc","nbf":1700000000,)"
                      R"("exp":1700000300})") == Reason::kOk);
    CHECK(
        verify_with(p, h, R"({"iss":"https://issuer.test","aud":"api://svc","exp":1700000300})") ==
        Reason::kMissingClaim);
    p.require_exp = false;
    CHECK(
        verify_with(p, h, R"({"iss":"https://issuer.test","aud":"api://svc","iat":1699999990})") ==
        Reason::kLifetimeTooLong);
  }
  CHECK(reason_code(Reason::kWrongTokenType) == "wrong_token_type");
  CHECK(reason_code(Reason::kLifetimeTooLong) == "lifetime_too_long");
}

TEST_CASE("token_policy: config keys for the token policy") {
  using mag::config::load_string;
  SUBCASE("defaults") {
    auto r = load_string(config_with(""));
    REQUIRE(r.config);
    const auto& idp = r.config->providers.at("idp");
    CHECK(idp.token_type == "jwt");
    CHECK(idp.require_exp);
    CHECK(idp.max_lifetime.count() == 0);
    CHECK(idp.required_claims.empty());
    CHECK(idp.ca_file.empty());
  }
  SUBCASE("every key set") {
    auto r =
        load_string(config_with("    token_type: at+jwt\n    require_exp: false\n"
                                "    max_lifetime: 3600\n    required_claims: [sub, jti]\n"
                                "    ca_file: /etc/ssl/ca.pem\n"));
    REQUIRE(r.config);
    const auto& idp = r.config->providers.at("idp");
    CHECK(idp.token_type == "at+jwt");
    CHECK_FALSE(idp.require_exp);
    CHECK(idp.max_lifetime.count() == 3600);
    CHECK(idp.required_claims == std::vector<std::string>{"sub", "jti"});
    CHECK(idp.ca_file == "/etc/ssl/ca.pem");
    const VerifyPolicy policy = policy_for(r.config->routes.at(0), idp);
    CHECK(policy.token_type == TokenTypePolicy::kAtJwt);
    CHECK_FALSE(policy.require_exp);
    CHECK(policy.max_lifetime_seconds == 3600);
    CHECK(policy.required_claims.size() == 2);
  }
  SUBCASE("bad values are refused") {
    for (const char* bad :
         {"    token_type: id_token\n", "    require_exp: maybe\n", "    max_lifetime: 10\n",
          "    required_claims: sub\n", "    required_claims: ['']\n"}) {
      CAPTURE(bad);
      auto r = load_string(config_with(bad));
      CHECK_FALSE(r.config);
    }
  }
  SUBCASE("discovery: no jwks_uri/jwks_file needs an https (or loopback http) issuer") {
    auto yaml = [](const std::string& issuer) {
      return "listeners:\n  - address: 127.0.0.1:8000\nproviders:\n  idp:\n    issuer: " + issuer +
             "\nupstreams:\n  backend:\n    url: http://127.0.0.1:9000\n"
             "routes:\n  - path_prefix: /mcp\n    upstream: backend\n"
             "    resource: https://gw.example.com/mcp\n";
    };
    CHECK(load_string(yaml("https://idp.example.com/t/tenant")).config);
    CHECK(load_string(yaml("http://127.0.0.1:9999")).config);
    CHECK(load_string(yaml("http://localhost:9999/realm")).config);
    CHECK_FALSE(load_string(yaml("http://idp.example.com")).config);
    CHECK_FALSE(load_string(yaml("not-a-url")).config);
  }
}

TEST_CASE("token_policy: discovery URLs and metadata checks") {
  CHECK(discovery_urls("https://as.example") ==
        std::vector<std::string>{"https://as.example/.well-known/openid-configuration",
                                 "https://as.example/.well-known/oauth-authorization-server"});
  CHECK(discovery_urls("https://as.example/t/tenant/oauth2/token") ==
        std::vector<std::string>{
            "https://as.example/t/tenant/oauth2/token/.well-known/openid-configuration",
            "https://as.example/.well-known/oauth-authorization-server/t/tenant/oauth2/token"});
  CHECK(discovery_urls("https://as.example/")[0] ==
        "https://as.example/.well-known/openid-configuration");

  std::string uri, error;
  CHECK(
      jwks_uri_from_metadata(R"({"issuer":"https://as.example","jwks_uri":"https://as.example/k"})",
                             "https://as.example", &uri, &error));
  CHECK(uri == "https://as.example/k");
  // Byte for byte: no trailing-slash or case leniency.
  CHECK_FALSE(jwks_uri_from_metadata(
      R"({"issuer":"https://as.example/","jwks_uri":"https://as.example/k"})", "https://as.example",
      &uri, &error));
  CHECK_FALSE(
      jwks_uri_from_metadata(R"({"issuer":"https://AS.example","jwks_uri":"https://as.example/k"})",
                             "https://as.example", &uri, &error));
  CHECK_FALSE(jwks_uri_from_metadata(R"({"issuer":"https://as.example"})", "https://as.example",
                                     &uri, &error));
  CHECK_FALSE(
      jwks_uri_from_metadata(R"({"issuer":"https://as.example","jwks_uri":"http://as.example/k"})",
                             "https://as.example", &uri, &error));
  CHECK_FALSE(jwks_uri_from_metadata(
      R"({"issuer":"https://as.example","issuer":"https://as.example","jwks_uri":"https://x/k"})",
      "https://as.example", &uri, &error));
  CHECK_FALSE(jwks_uri_from_metadata("[]", "https://as.example", &uri, &error));
  // Plain http only for a loopback development issuer.
  CHECK(jwks_uri_from_metadata(
      R"({"issuer":"http://127.0.0.1:9000","jwks_uri":"http://127.0.0.1:9000/jwks"})",
      "http://127.0.0.1:9000", &uri, &error));
}

TEST_CASE("token_policy: Cache-Control max-age shortens the refresh within bounds") {
  using std::chrono::seconds;
  CHECK(refresh_interval(seconds(600), "") == seconds(600));
  CHECK(refresh_interval(seconds(600), "public, max-age=300") == seconds(300));
  CHECK(refresh_interval(seconds(600), "max-age=86400") == seconds(600));
  CHECK(refresh_interval(seconds(600), "max-age=5") == seconds(60));
  CHECK(refresh_interval(seconds(600), "no-cache") == seconds(60));
  CHECK(refresh_interval(seconds(600), "MAX-AGE=120") == seconds(120));
  CHECK(refresh_interval(seconds(600), "max-age=abc") == seconds(600));
  CHECK(refresh_interval(seconds(600), "max-age=99999999999999999999999") == seconds(600));
  CHECK(refresh_interval(seconds(30), "max-age=300") == seconds(30));
}

TEST_CASE("token_policy: ProviderView::verify caches good tokens and refusals") {
  const std::string dir = std::filesystem::temp_directory_path() / "mag_token_policy_test";
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/jwks.json";
  {
    std::ofstream out(file);
    out << jwks_of({public_jwk(rsa_key(), "rsa1")});
  }
  mag::config::Provider config;
  config.name = "idp";
  config.issuer = "https://issuer.test";
  config.jwks_file = file;
  std::unique_ptr<event_base, decltype(&event_base_free)> base(event_base_new(), event_base_free);
  auto key_provider = KeyProvider::create(base.get(), config);
  key_provider->start();
  auto loop = std::make_shared<mag::Mailbox>(base.get());
  auto provider = std::make_shared<ProviderView>(key_provider, loop.get(), loop);
  REQUIRE(provider->keys());

  VerifyPolicy p = base_policy();
  const std::string good = token(R"({"alg":"RS256","kid":"rsa1"})", kGood);
  CHECK(provider->verify(good, p, kNow).reason == Reason::kOk);
  CHECK(provider->cache().size() == 1);
  auto hit = provider->verify(good, p, kNow);
  CHECK(hit.reason == Reason::kOk);
  CHECK(hit.claims.subject == "u1");
  // exp is checked on every hit: the cached entry cannot outlive the token.
  CHECK(provider->verify(good, p, 1700000300 + 60).reason == Reason::kExpired);
  // A different audience context is a different entry (and here a failure).
  VerifyPolicy other = p;
  other.audiences = {"api://other"};
  CHECK(provider->verify(good, other, kNow).reason == Reason::kWrongAudience);

  std::string forged =
      signed_token(other_rsa_key(), "RS256", R"({"alg":"RS256","kid":"rsa1"})", kGood);
  CHECK(provider->verify(forged, p, kNow).reason == Reason::kBadSignature);
  // Negative entries: the expired and the wrong-audience answers above, and
  // the bad signature; repeated, each gets its own reason back.
  CHECK(provider->cache().negative_size() == 3);
  CHECK(provider->verify(forged, p, kNow).reason == Reason::kBadSignature);
  CHECK(provider->verify(good, p, 1700000300 + 60).reason == Reason::kExpired);
  CHECK(provider->verify(good, other, kNow).reason == Reason::kWrongAudience);
  CHECK(provider->cache().negative_size() == 3);
  std::filesystem::remove_all(dir);
}
