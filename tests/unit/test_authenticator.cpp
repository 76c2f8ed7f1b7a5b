#include <doctest/doctest.h>

#include <event2/event.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/c_handles.h"
#include "common/event_loop.h"
#include "proxy/authenticator.h"
#include "proxy/dev_token.h"

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
