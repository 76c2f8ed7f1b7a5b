// The token requests: each form field read back with libevent's own query
// parser, the Basic credentials decoded, and the private_key_jwt assertion
// verified with the gateway's JWS code against the public key.
#include <doctest/doctest.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/core_names.h>
#include <sys/queue.h>

#include <map>
#include <optional>
#include <string>

#include "common/core/c_handles.h"
#include "proxy/auth/jws_signature.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/credentials/client_assertion.h"
#include "proxy/credentials/token_request.h"
#include "tests/unit/jwt_test_util.h"
#include "tests/unit/private_key_pem.h"

namespace {

using mag::config::ClientCredentials;
using mag::config::OAuthClient;
using mag::config::TokenExchange;
using mag::credentials::client_credentials_request;
using mag::credentials::token_exchange_request;
using mag::http::FetchRequest;

constexpr int64_t kNow = 1'700'000'000;
const std::string kEndpoint = "https://idp.example.com/oauth2/token";

// The form body as name -> value, decoded by evhttp_parse_query_str. A
// name sent twice fails the test.
std::map<std::string, std::string> form_of(const std::string& body) {
  evkeyvalq pairs;
  TAILQ_INIT(&pairs);
  REQUIRE(evhttp_parse_query_str(body.c_str(), &pairs) == 0);
  std::map<std::string, std::string> out;
  for (evkeyval* kv = pairs.tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
    CHECK_MESSAGE(out.emplace(kv->key, kv->value).second, kv->key);
  }
  evhttp_clear_headers(&pairs);
  return out;
}

std::optional<std::string> header_of(const FetchRequest& request, const std::string& name) {
  for (const auto& [n, v] : request.headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::string base64_decode(const std::string& text) {
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  REQUIRE(n >= 0);
  out.resize(static_cast<size_t>(n));
  // EVP_DecodeBlock keeps the zero bytes that stand for '=' padding.
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) out.pop_back();
  return out;
}

OAuthClient secret_client(OAuthClient::AuthMethod method) {
  OAuthClient client;
  client.token_endpoint = kEndpoint;
  client.client_id = "gw:1 x";
  client.client_secret = "p@ss w:rd+&=%";
  client.auth_method = method;
  return client;
}

void check_common_headers(const FetchRequest& request) {
  CHECK(request.method == "POST");
  CHECK(request.url == kEndpoint);
  CHECK(header_of(request, "Content-Type") == "application/x-www-form-urlencoded");
  CHECK(header_of(request, "Accept") == "application/json");
}

}  // namespace

TEST_CASE("token_request: client_credentials with client_secret_basic") {
  ClientCredentials cc;
  cc.client = secret_client(OAuthClient::AuthMethod::kClientSecretBasic);
  cc.scopes = {"mcp:read", "mcp:write"};
  cc.resource = "https://mcp.example.com/api?x=1&y=2";
  cc.audience = "api://mcp";
  FetchRequest request;
  std::string error;
  REQUIRE(client_credentials_request(cc, kEndpoint, kNow, &request, &error));
  check_common_headers(request);
  const auto form = form_of(request.body);
  CHECK(form == std::map<std::string, std::string>{{"grant_type", "client_credentials"},
                                                   {"scope", "mcp:read mcp:write"},
                                                   {"resource", cc.resource},
                                                   {"audience", "api://mcp"}});
  // Spaces as '+', reserved characters percent-encoded: nothing raw.
  CHECK(request.body.find("scope=mcp%3Aread+mcp%3Awrite") != std::string::npos);
  // RFC 6749 §2.3.1: each of id and secret form-encoded, then joined by ':'.
  const auto authorization = header_of(request, "Authorization");
  REQUIRE(authorization);
  REQUIRE(authorization->starts_with("Basic "));
  CHECK(base64_decode(authorization->substr(6)) == "gw%3A1+x:p%40ss+w%3Ard%2B%26%3D%25");
  CHECK(request.body.find("client_secret") == std::string::npos);
  CHECK(request.body.find("p%40ss") == std::string::npos);
}

TEST_CASE("token_request: client_secret_post puts the credentials in the form") {
  ClientCredentials cc;
  cc.client = secret_client(OAuthClient::AuthMethod::kClientSecretPost);
  FetchRequest request;
  std::string error;
  REQUIRE(client_credentials_request(cc, kEndpoint, kNow, &request, &error));
  check_common_headers(request);
  CHECK_FALSE(header_of(request, "Authorization"));
  // Unset scopes, resource and audience are not sent at all.
  CHECK(form_of(request.body) ==
        std::map<std::string, std::string>{{"grant_type", "client_credentials"},
                                           {"client_id", "gw:1 x"},
                                           {"client_secret", "p@ss w:rd+&=%"}});
}

TEST_CASE("token_request: token exchange") {
  TokenExchange te;
  te.client = secret_client(OAuthClient::AuthMethod::kClientSecretPost);
  te.audience = "upstream-api";
  te.resource = "urn:example:mcp";
  te.scopes = {"tools:call"};
  const std::string subject = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln+/=";
  FetchRequest request;
  std::string error;
  REQUIRE(token_exchange_request(te, kEndpoint, subject, kNow, &request, &error));
  check_common_headers(request);
  CHECK(form_of(request.body) ==
        std::map<std::string, std::string>{
            {"grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"},
            {"subject_token", subject},
            {"subject_token_type", "urn:ietf:params:oauth:token-type:access_token"},
            {"requested_token_type", "urn:ietf:params:oauth:token-type:access_token"},
            {"audience", "upstream-api"},
            {"resource", "urn:example:mcp"},
            {"scope", "tools:call"},
            {"client_id", "gw:1 x"},
            {"client_secret", "p@ss w:rd+&=%"}});
  SUBCASE("only what is set, and the requested type as configured") {
    te.resource.clear();
    te.scopes.clear();
    te.requested_token_type = "urn:ietf:params:oauth:token-type:jwt";
    te.client = secret_client(OAuthClient::AuthMethod::kClientSecretBasic);
    REQUIRE(token_exchange_request(te, kEndpoint, subject, kNow, &request, &error));
    const auto form = form_of(request.body);
    CHECK(form.size() == 5);
    CHECK(form.at("requested_token_type") == "urn:ietf:params:oauth:token-type:jwt");
    CHECK(form.count("resource") == 0);
    CHECK(form.count("scope") == 0);
    CHECK(form.count("client_id") == 0);
  }
}

namespace {

struct Assertion {
  mag::auth::CompactJws jws;
  mag::JsonPtr claims;
  std::string token;
};

// The client_assertion of a private_key_jwt request, parsed with the
// gateway's compact-JWS parser and verified against `public_key`.
Assertion verified_assertion(const FetchRequest& request, const std::string& alg,
                             EVP_PKEY* public_key) {
  const auto form = form_of(request.body);
  CHECK(form.at("client_assertion_type") ==
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  CHECK(form.at("client_id") == "gw-client");
  CHECK(form.count("client_secret") == 0);
  CHECK_FALSE(header_of(request, "Authorization"));
  Assertion out;
  out.token = form.at("client_assertion");
  REQUIRE(mag::auth::parse_compact_jws(out.token, 16384, {alg}, &out.jws) ==
          mag::auth::Reason::kOk);
  CHECK(out.jws.alg == alg);
  CHECK(mag::auth::verify_jws_signature(alg, public_key, out.jws.signing_input, out.jws.signature));
  // The check can fail: one flipped signature bit is refused.
  std::string tampered = out.jws.signature;
  tampered[tampered.size() / 2] ^= 0x01;
  CHECK_FALSE(mag::auth::verify_jws_signature(alg, public_key, out.jws.signing_input, tampered));
  out.claims = mag::auth::parse_json_object(out.jws.payload);
  REQUIRE(out.claims);
  return out;
}

std::string member(json_t* object, const char* name) {
  json_t* value = json_object_get(object, name);
  return json_is_string(value) ? json_string_value(value) : "<absent>";
}

// A private_key_jwt client with the key in `pem`.
OAuthClient jwt_client(const std::string& pem) {
  OAuthClient client;
  client.token_endpoint = kEndpoint;
  client.client_id = "gw-client";
  client.auth_method = OAuthClient::AuthMethod::kPrivateKeyJwt;
  client.private_key_pem = pem;
  return client;
}

mag::EvpPkeyPtr public_key_of(const mag::auth::testing::TestKey& key) {
  using namespace mag::auth::testing;
  if (key.kty == "RSA") {
    return mag::auth::rsa_public_key(bn_param(key, OSSL_PKEY_PARAM_RSA_N),
                                     bn_param(key, OSSL_PKEY_PARAM_RSA_E));
  }
  return mag::auth::ec_public_key("P-256", bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32),
                                  bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
}

}  // namespace

TEST_CASE("token_request: private_key_jwt signs a client assertion the verifier accepts") {
  using namespace mag::auth::testing;
  struct Case {
    const TestKey* key;
    std::string alg;
  };
  for (const Case& c :
       {Case{&ec_key(), "ES256"}, Case{&rsa_key(), "RS256"}, Case{&rsa_key(), "PS256"}}) {
    CAPTURE(c.alg);
    ClientCredentials cc;
    cc.client = jwt_client(mag::test::private_key_pem(c.key->pkey.get()));
    cc.client.signing_alg = c.alg;
    cc.client.key_id = "key-1";
    FetchRequest request;
    std::string error;
    REQUIRE_MESSAGE(client_credentials_request(cc, kEndpoint, kNow, &request, &error), error);
    check_common_headers(request);
    CHECK(form_of(request.body).at("grant_type") == "client_credentials");
    const mag::EvpPkeyPtr public_key = public_key_of(*c.key);
    REQUIRE(public_key);
    const Assertion a = verified_assertion(request, c.alg, public_key.get());
    CHECK(member(a.jws.header.get(), "typ") == "JWT");
    CHECK(a.jws.kid == "key-1");
    CHECK(json_object_size(a.jws.header.get()) == 3);
    json_t* claims = a.claims.get();
    CHECK(member(claims, "iss") == "gw-client");
    CHECK(member(claims, "sub") == "gw-client");
    CHECK(member(claims, "aud") == kEndpoint);
    CHECK(json_integer_value(json_object_get(claims, "iat")) == kNow);
    CHECK(json_integer_value(json_object_get(claims, "exp")) == kNow + 60);
    const std::string jti = member(claims, "jti");
    const auto jti_bytes = mag::auth::base64url_decode(jti);
    REQUIRE(jti_bytes);
    CHECK(jti_bytes->size() == 16);
    CHECK(json_object_size(claims) == 6);
    // A fresh jti for every assertion.
    FetchRequest again;
    REQUIRE(client_credentials_request(cc, kEndpoint, kNow, &again, &error));
    CHECK(member(verified_assertion(again, c.alg, public_key.get()).claims.get(), "jti") != jti);
  }
}

TEST_CASE("token_request: private_key_jwt for token exchange; no kid when none is set") {
  using namespace mag::auth::testing;
  TokenExchange te;
  te.client = jwt_client(mag::test::private_key_pem(ec_key().pkey.get()));
  te.audience = "a";
  // The endpoint discovered at run time is the audience, not the config's.
  const std::string discovered = "https://idp.example.com/discovered/token";
  FetchRequest request;
  std::string error;
  REQUIRE_MESSAGE(token_exchange_request(te, discovered, "subject", kNow, &request, &error), error);
  CHECK(request.url == discovered);
  const mag::EvpPkeyPtr public_key = public_key_of(ec_key());
  const Assertion a = verified_assertion(request, "ES256", public_key.get());
  CHECK_FALSE(a.jws.has_kid);
  CHECK(member(a.claims.get(), "aud") == discovered);
  CHECK(form_of(request.body).at("subject_token") == "subject");
}

TEST_CASE("token_request: a key that cannot sign fails with a reason, never the key") {
  using namespace mag::auth::testing;
  ClientCredentials cc;
  cc.client = jwt_client("");
  FetchRequest request;
  std::string error;
  SUBCASE("not a key") {
    cc.client.private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    CHECK_FALSE(client_credentials_request(cc, kEndpoint, kNow, &request, &error));
    CHECK(error.find("not a PEM private key") != std::string::npos);
    CHECK(error.find("AAAA") == std::string::npos);
  }
  SUBCASE("an algorithm the key cannot make") {
    cc.client.private_key_pem = mag::test::private_key_pem(ec_key().pkey.get());
    cc.client.signing_alg = "RS256";
    CHECK_FALSE(client_credentials_request(cc, kEndpoint, kNow, &request, &error));
    CHECK(error == "the private key cannot sign RS256");
  }
  CHECK(request.body.empty());
}
