#include <doctest/doctest.h>

#include <event2/event.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"
#include "proxy/auth/authenticator.h"
#include "proxy/telemetry/metrics.h"
#include "proxy/tools/dev_token.h"
#include "tests/unit/proxy/auth/authenticate_test_util.h"

using namespace mag;
using auth::AuthDecision;

namespace {

struct Fixture {
  EventBasePtr base{event_base_new()};
  std::filesystem::path dir;
  auth::GeneratedKey key = auth::generate_rsa_jwk("k1");
  auth::GeneratedKey other_key = auth::generate_rsa_jwk("k1");  // same kid, other material
  config::Route route;
  std::shared_ptr<Mailbox> loop = std::make_shared<Mailbox>(base.get());
  auth::ProviderMap providers;

  // A started provider, seen through a view on the same loop.
  std::shared_ptr<auth::ProviderView> view(const config::Provider& p) {
    auto provider = auth::KeyProvider::create(base.get(), p);
    provider->start();
    return std::make_shared<auth::ProviderView>(provider, loop.get(), loop);
  }

  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("mag-authn-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "jwks.json") << key.public_jwks;
    config::Provider p;
    p.name = "dev";
    p.issuer = "https://issuer.test";
    p.jwks_file = (dir / "jwks.json").string();
    p.algorithms = {"RS256"};
    providers["dev"] = view(p);
    route.path_prefix = "/mcp";
    route.resource = "http://localhost:8000/mcp";
    route.auth.providers = {"dev"};
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  std::string token(const std::string& jwk, const std::string& aud, int64_t ttl = 300) {
    auth::DevTokenRequest r;
    r.issuer = "https://issuer.test";
    r.audience = aud;
    r.subject = "alice";
    r.scopes = "math:add";
    r.ttl_seconds = ttl;
    std::string error;
    std::string t = auth::mint_dev_token_with_jwk(jwk, r, &error);
    REQUIRE_MESSAGE(!t.empty(), error);
    return t;
  }

  AuthDecision decide(const std::string& authorization) {
    http::HeaderMap headers;
    if (!authorization.empty()) headers.add("Authorization", authorization);
    auto attempt = auth::authenticate(route, headers, providers, std::time(nullptr), true, [] {});
    REQUIRE(attempt.decision.has_value());  // file keys never make a request wait
    return *attempt.decision;
  }
};

}  // namespace

TEST_CASE("authenticator: decisions for a file-backed provider") {
  Fixture f;
  REQUIRE(f.providers["dev"]->keys());

  SUBCASE("valid token") {
    AuthDecision d = f.decide("Bearer " + f.token(f.key.private_jwk, f.route.resource));
    CHECK(d.kind == AuthDecision::Kind::kAllow);
    CHECK(d.claims.subject == "alice");
    CHECK(d.claims.scopes == std::vector<std::string>{"math:add"});
  }
  SUBCASE("no header: a challenge without error") {
    CHECK(f.decide("").kind == AuthDecision::Kind::kNoCredentials);
  }
  SUBCASE("another scheme counts as no credentials") {
    CHECK(f.decide("Basic dXNlcjpwYXNz").kind == AuthDecision::Kind::kNoCredentials);
  }
  SUBCASE("wrong audience") {
    AuthDecision d = f.decide("Bearer " + f.token(f.key.private_jwk, "http://other/mcp"));
    CHECK(d.kind == AuthDecision::Kind::kInvalidToken);
    CHECK(d.reason == auth::Reason::kWrongAudience);
  }
  SUBCASE("signed by another key with the same kid") {
    AuthDecision d = f.decide("Bearer " + f.token(f.other_key.private_jwk, f.route.resource));
    CHECK(d.kind == AuthDecision::Kind::kInvalidToken);
    CHECK(d.reason == auth::Reason::kBadSignature);
  }
  SUBCASE("garbage") {
    AuthDecision d = f.decide("Bearer not-a-jwt");
    CHECK(d.kind == AuthDecision::Kind::kInvalidToken);
    CHECK(d.reason == auth::Reason::kMalformed);
  }
  SUBCASE("two tokens: 400") {
    http::HeaderMap headers;
    const std::string t = "Bearer " + f.token(f.key.private_jwk, f.route.resource);
    headers.add("Authorization", t);
    headers.add("Authorization", t);
    auto attempt =
        auth::authenticate(f.route, headers, f.providers, std::time(nullptr), true, [] {});
    REQUIRE(attempt.decision);
    CHECK(attempt.decision->kind == AuthDecision::Kind::kBadRequest);
  }
}

TEST_CASE("authenticator: the audience may be one of the provider's audiences") {
  Fixture f;
  config::Provider p = f.providers["dev"]->config();
  p.audiences = {"client-id-123"};
  f.providers["dev"] = f.view(p);
  CHECK(f.decide("Bearer " + f.token(f.key.private_jwk, "client-id-123")).kind ==
        AuthDecision::Kind::kAllow);
}

TEST_CASE("authenticator: no keys at all rejects, never allows") {
  Fixture f;
  config::Provider p = f.providers["dev"]->config();
  p.jwks_file = (f.dir / "missing.json").string();
  f.providers["dev"] = f.view(p);
  AuthDecision d = f.decide("Bearer " + f.token(f.key.private_jwk, f.route.resource));
  CHECK(d.kind == AuthDecision::Kind::kInvalidToken);
}

// REL-CLI-07 / REL-RES-02 at unit level: what a repeated token costs, counted
// by mag_token_signature_verifications_total (this thread's metrics registry).
TEST_CASE("authenticator: repeated tokens cost one signature check, garbage none") {
  Fixture f;
  const int64_t now = std::time(nullptr);
  auto decide_at = [&](const std::string& token, int64_t at) {
    http::HeaderMap headers;
    headers.add("Authorization", "Bearer " + token);
    auto attempt = auth::authenticate(f.route, headers, f.providers, at, true, [] {});
    REQUIRE(attempt.decision.has_value());
    return *attempt.decision;
  };
  auto checks = [](const char* result) {
    return metrics::global().value("mag_token_signature_verifications_total",
                                   {{"provider", "dev"}, {"result", result}});
  };
  auto lookups = [](const char* result) {
    return metrics::global().value("mag_token_cache_lookups_total",
                                   {{"provider", "dev"}, {"result", result}});
  };
  const double good0 = checks("good"), bad0 = checks("bad"), hits0 = lookups("hit"),
               negative0 = lookups("negative_hit");

  const std::string valid = f.token(f.key.private_jwk, f.route.resource, 300);
  for (int i = 0; i < 100; ++i) CHECK(decide_at(valid, now).kind == AuthDecision::Kind::kAllow);
  CHECK(checks("good") - good0 == 1);
  CHECK(lookups("hit") - hits0 == 99);

  // Signed by the right kid with other material: one bad check, then the negative cache.
  const std::string forged = f.token(f.other_key.private_jwk, f.route.resource, 300);
  for (int i = 0; i < 50; ++i) CHECK(decide_at(forged, now).reason == auth::Reason::kBadSignature);
  CHECK(checks("bad") - bad0 == 1);

  // Expired (the same valid token, 10 minutes later): remembered with its reason.
  const std::string later = f.token(f.key.private_jwk, f.route.resource, 60);
  for (int i = 0; i < 50; ++i) CHECK(decide_at(later, now + 600).reason == auth::Reason::kExpired);
  // Wrong audience: a good signature, a claim that will never match.
  const std::string elsewhere = f.token(f.key.private_jwk, "https://elsewhere.test/mcp", 300);
  for (int i = 0; i < 50; ++i)
    CHECK(decide_at(elsewhere, now).reason == auth::Reason::kWrongAudience);
  CHECK(checks("good") - good0 == 3);
  CHECK(lookups("negative_hit") - negative0 == 49 * 3);

  // Garbage, an unknown kid, a refused algorithm: no signature work at all.
  const std::string payload = "eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0In0";
  const std::string zeros(342, 'A');  // a 256-byte RS256 signature, base64url
  for (int i = 0; i < 50; ++i) {
    CHECK(decide_at("not-a-jwt-" + std::to_string(i), now).reason == auth::Reason::kMalformed);
    // {"alg":"RS256","kid":"nope"} / {"alg":"none"}
    CHECK(
        decide_at("eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUifQ." + payload + "." + zeros, now).reason ==
        auth::Reason::kUnknownKid);
    CHECK(decide_at("eyJhbGciOiJub25lIn0." + payload + ".", now).kind ==
          AuthDecision::Kind::kInvalidToken);
  }
  CHECK(checks("good") - good0 == 3);
  CHECK(checks("bad") - bad0 == 1);
}

TEST_CASE("authenticator: route policies made once per snapshot decide like the per-request ones") {
  Fixture f;
  config::Provider p = f.providers["dev"]->config();
  p.audiences = {"client-id-123"};
  f.providers["dev"] = f.view(p);
  f.route.auth.providers = {"missing", "dev"};  // a provider the config lacks is skipped
  const std::map<std::string, config::Provider> configs = {{"dev", p}};
  const auth::RoutePolicies policies = auth::route_policies(f.route, configs);
  REQUIRE(policies.size() == 1);
  CHECK(policies[0].provider == "dev");
  CHECK(policies[0].policy.issuer == "https://issuer.test");
  CHECK(policies[0].policy.audiences ==
        std::vector<std::string>{"http://localhost:8000/mcp", "client-id-123"});
  CHECK(policies[0].cache_context == auth::token_cache_context(policies[0].policy));
  CHECK(policies[0].cache_context == "http://localhost:8000/mcp\nclient-id-123\n");

  auto decide = [&](const std::string& token) {
    http::HeaderMap headers;
    headers.add("Authorization", "Bearer " + token);
    auto attempt =
        auth::authenticate(policies, headers, f.providers, std::time(nullptr), true, [] {});
    REQUIRE(attempt.decision.has_value());
    return *attempt.decision;
  };
  const std::string good = f.token(f.key.private_jwk, "client-id-123");
  CHECK(decide(good).kind == AuthDecision::Kind::kAllow);
  CHECK(decide(good).claims.subject == "alice");  // the cached result, same answer
  const AuthDecision wrong = decide(f.token(f.key.private_jwk, "http://other/mcp"));
  CHECK(wrong.kind == AuthDecision::Kind::kInvalidToken);
  CHECK(wrong.reason == auth::Reason::kWrongAudience);
  CHECK(decide(f.token(f.other_key.private_jwk, "client-id-123")).reason ==
        auth::Reason::kBadSignature);
}

// describe_refusal: the log's detail of a refusal, from the decision, the
// route's policies and the request headers (proxy_stream's authn line).
TEST_CASE("authenticator: a refusal names its provider and is described for the log") {
  Fixture f;
  std::map<std::string, config::Provider> configs{{"dev", f.providers["dev"]->config()}};
  const auth::RoutePolicies policies = auth::route_policies(f.route, configs);
  auto describe = [&](const std::string& authorization, const AuthDecision& d) {
    http::HeaderMap headers;
    headers.add("Authorization", authorization);
    return auth::describe_refusal(d, policies, headers, f.providers, f.route.resource,
                                  std::time(nullptr));
  };

  const std::string wrong_aud = "Bearer " + f.token(f.key.private_jwk, "http://other/mcp");
  AuthDecision d = f.decide(wrong_aud);
  REQUIRE(d.kind == AuthDecision::Kind::kInvalidToken);
  CHECK(d.provider == "dev");
  CHECK(describe(wrong_aud, d) ==
        R"(aud "http://other/mcp" is not accepted (accepted: "http://localhost:8000/mcp" (the )"
        R"(route's resource)))");
  CHECK(d.description == "The token audience is not accepted");  // the client's text is unchanged

  const std::string bad_header = "Bearer a b";
  d = f.decide(bad_header);
  REQUIRE(d.kind == AuthDecision::Kind::kInvalidToken);
  CHECK(d.provider.empty());
  CHECK(describe(bad_header, d) == R"(the Authorization header is not one "Bearer <token>")");
}

TEST_CASE("authenticator: without keys the refusal names no provider") {
  Fixture f;
  config::Provider p = f.providers["dev"]->config();
  p.jwks_file = (f.dir / "missing.json").string();
  f.providers["dev"] = f.view(p);
  std::map<std::string, config::Provider> configs{{"dev", p}};
  const std::string authorization = "Bearer " + f.token(f.key.private_jwk, f.route.resource);
  const AuthDecision d = f.decide(authorization);
  REQUIRE(d.kind == AuthDecision::Kind::kInvalidToken);
  CHECK(d.provider.empty());
  http::HeaderMap headers;
  headers.add("Authorization", authorization);
  CHECK(auth::describe_refusal(d, auth::route_policies(f.route, configs), headers, f.providers,
                               f.route.resource,
                               std::time(nullptr)) == "no provider of the route has signing keys");
}
