// upstreams.<name>.credentials.client_credentials / token_exchange: what
// loads (with every default), what is refused with which message, and that
// no refusal shows the client secret.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/jwt_test_util.h"
#include "tests/unit/private_key_pem.h"
#include "tests/unit/scoped_env.h"
#include "tests/unit/temp_dir.h"

namespace {

using mag::config::ClientCredentials;
using mag::config::LoadResult;
using mag::config::OAuthClient;
using mag::config::TokenExchange;
using mag::test::ScopedEnv;
using mag::test::TempDir;

const std::string kSecret = "oauth-s3cr3t-value";

// A config whose upstream `backend` has `credentials:` with `body` (its
// lines indented six spaces), loaded as `source` (relative paths resolve
// against its directory).
LoadResult load_credentials(const std::string& body, const std::string& source = "<string>") {
  return mag::config::load_string(
      mag::test::config_with_upstream("    url: http://127.0.0.1:9000\n    credentials:\n" + body),
      source);
}

// `block:` (client_credentials or token_exchange) with the lines `keys`
// (each indented eight spaces).
std::string block(const std::string& name, const std::string& keys) {
  return "      " + name + ":\n" + keys;
}

const std::string kSecretBasic =
    "        token_endpoint: https://idp.example.com/token\n"
    "        client_id: gw\n"
    "        client_secret: " +
    kSecret + "\n";

const mag::config::Upstream& backend(const LoadResult& result) {
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  return result.config->upstreams.at("backend");
}

// Checks the refusal names `expected` and never shows the secret.
void check_refused(const LoadResult& result, const std::string& expected) {
  REQUIRE_FALSE(result.config);
  REQUIRE(result.error);
  const std::string& error = result.error->message;
  CHECK_MESSAGE(error.find(expected) != std::string::npos, error);
  CHECK_MESSAGE(error.find(kSecret) == std::string::npos, error);
}

}  // namespace

TEST_CASE("oauth_client_loader: client_credentials with the defaults") {
  const auto result = load_credentials(block("client_credentials", kSecretBasic));
  const auto& upstream = backend(result);
  REQUIRE(upstream.client_credentials);
  CHECK_FALSE(upstream.token_exchange);
  const ClientCredentials& cc = *upstream.client_credentials;
  CHECK(cc.client.token_endpoint == "https://idp.example.com/token");
  CHECK(cc.client.issuer.empty());
  CHECK(cc.client.client_id == "gw");
  CHECK(cc.client.auth_method == OAuthClient::AuthMethod::kClientSecretBasic);
  CHECK(cc.client.client_secret == kSecret);
  CHECK(cc.client.client_secret_file.empty());
  CHECK(cc.client.private_key_pem.empty());
  CHECK(cc.client.signing_alg.empty());
  CHECK(cc.client.ca_file.empty());
  CHECK(cc.client.timeout == std::chrono::seconds(5));
  CHECK(cc.scopes.empty());
  CHECK(cc.resource.empty());
  CHECK(cc.audience.empty());
}

TEST_CASE("oauth_client_loader: client_credentials with every key") {
  ScopedEnv env("MAG_OAUTH_TEST_SECRET", kSecret);
  const auto result = load_credentials("      headers: {X-Tenant: acme}\n" +
                                       block("client_credentials",
                                             "        issuer: http://127.0.0.1:8081/realm\n"
                                             "        client_id: gw-client\n"
                                             "        auth_method: client_secret_post\n"
                                             "        client_secret: ${MAG_OAUTH_TEST_SECRET}\n"
                                             "        timeout: 12\n"
                                             "        scopes: [a, b, a]\n"
                                             "        resource: https://mcp.example.com/api\n"
                                             "        audience: api://mcp\n"));
  const auto& upstream = backend(result);
  REQUIRE(upstream.client_credentials);
  const ClientCredentials& cc = *upstream.client_credentials;
  CHECK(cc.client.token_endpoint.empty());
  CHECK(cc.client.issuer == "http://127.0.0.1:8081/realm");
  CHECK(cc.client.auth_method == OAuthClient::AuthMethod::kClientSecretPost);
  CHECK(cc.client.client_secret == kSecret);
  CHECK(cc.client.timeout == std::chrono::seconds(12));
  CHECK(cc.scopes == std::vector<std::string>{"a", "b"});
  CHECK(cc.resource == "https://mcp.example.com/api");
  CHECK(cc.audience == "api://mcp");
  REQUIRE(upstream.credential_headers.size() == 1);
  CHECK(upstream.credential_headers[0].name == "X-Tenant");
}

TEST_CASE("oauth_client_loader: token_exchange with the defaults and with every key") {
  SUBCASE("defaults") {
    const auto result = load_credentials(
        block("token_exchange", kSecretBasic + "        audience: upstream-api\n"));
    const auto& upstream = backend(result);
    REQUIRE(upstream.token_exchange);
    CHECK_FALSE(upstream.client_credentials);
    const TokenExchange& te = *upstream.token_exchange;
    CHECK(te.audience == "upstream-api");
    CHECK(te.resource.empty());
    CHECK(te.scopes.empty());
    CHECK(te.requested_token_type == "urn:ietf:params:oauth:token-type:access_token");
    CHECK(te.cache_entries == 10000);
    CHECK(te.client.auth_method == OAuthClient::AuthMethod::kClientSecretBasic);
  }
  SUBCASE("every key") {
    const auto result = load_credentials(
        block("token_exchange", kSecretBasic + "        resource: urn:example:mcp\n"
                                               "        scopes: [tools:call]\n"
                                               "        requested_token_type: "
                                               "urn:ietf:params:oauth:token-type:jwt\n"
                                               "        cache_entries: 1\n"));
    const auto& upstream = backend(result);
    REQUIRE(upstream.token_exchange);
    const TokenExchange& te = *upstream.token_exchange;
    CHECK(te.audience.empty());
    CHECK(te.resource == "urn:example:mcp");
    CHECK(te.scopes == std::vector<std::string>{"tools:call"});
    CHECK(te.requested_token_type == "urn:ietf:params:oauth:token-type:jwt");
    CHECK(te.cache_entries == 1);
  }
}

TEST_CASE("oauth_client_loader: the secret's file form is read at every load") {
  TempDir dir;
  const std::string config = dir.path() / "gateway.yaml";
  dir.write("secret", kSecret + "\n");
  const std::string body = block("client_credentials",
                                 "        token_endpoint: https://idp.example.com/token\n"
                                 "        client_id: gw\n"
                                 "        client_secret: {file: secret}\n");
  const auto first = load_credentials(body, config);
  REQUIRE(backend(first).client_credentials);
  CHECK(backend(first).client_credentials->client.client_secret == kSecret);
  CHECK(backend(first).client_credentials->client.client_secret_file ==
        (dir.path() / "secret").string());
  dir.write("secret", "rotated-secret\r\n");
  const auto second = load_credentials(body, config);
  CHECK(backend(second).client_credentials->client.client_secret == "rotated-secret");

  dir.write("secret", "\n");
  check_refused(load_credentials(body, config),
                "credentials.client_credentials.client_secret.file: the file is empty");
  dir.write("secret", kSecret + " \n");
  check_refused(load_credentials(body, config),
                "client_secret.file: the secret has leading or trailing whitespace");
  check_refused(load_credentials(block("client_credentials",
                                       "        token_endpoint: https://idp.example.com/token\n"
                                       "        client_id: gw\n"
                                       "        client_secret: {file: missing}\n"),
                                 config),
                "client_secret.file: cannot open '" + (dir.path() / "missing").string() + "'");
  check_refused(load_credentials(block("client_credentials",
                                       "        token_endpoint: https://idp.example.com/token\n"
                                       "        client_id: gw\n"
                                       "        client_secret: {path: secret}\n"),
                                 config),
                "unknown key 'path'");
}

TEST_CASE("oauth_client_loader: private_key_jwt reads and checks the key") {
  using namespace mag::auth::testing;
  TempDir dir;
  const std::string config = dir.path() / "gateway.yaml";
  dir.write("ec.pem", mag::test::private_key_pem(ec_key().pkey.get()));
  dir.write("rsa.pem", mag::test::private_key_pem(rsa_key().pkey.get()));
  auto jwt = [&](const std::string& extra) {
    return load_credentials(block("client_credentials",
                                  "        token_endpoint: https://idp.example.com/token\n"
                                  "        client_id: gw\n"
                                  "        auth_method: private_key_jwt\n" +
                                      extra),
                            config);
  };
  SUBCASE("EC P-256: ES256 by default, the PEM and the kid kept") {
    const auto result = jwt("        private_key_file: ec.pem\n        key_id: k1\n");
    const OAuthClient& c = backend(result).client_credentials->client;
    CHECK(c.auth_method == OAuthClient::AuthMethod::kPrivateKeyJwt);
    CHECK(c.private_key_file == (dir.path() / "ec.pem").string());
    CHECK(c.private_key_pem == mag::test::private_key_pem(ec_key().pkey.get()));
    CHECK(c.signing_alg == "ES256");
    CHECK(c.key_id == "k1");
    CHECK(c.client_secret.empty());
  }
  SUBCASE("RSA: RS256 by default, PS256 when asked") {
    const auto rs = jwt("        private_key_file: rsa.pem\n");
    CHECK(backend(rs).client_credentials->client.signing_alg == "RS256");
    const auto ps = jwt("        private_key_file: rsa.pem\n        signing_alg: PS256\n");
    CHECK(backend(ps).client_credentials->client.signing_alg == "PS256");
  }
  SUBCASE("the algorithm must fit the key") {
    check_refused(jwt("        private_key_file: ec.pem\n        signing_alg: RS256\n"),
                  "client_credentials.signing_alg: 'RS256' does not fit the key");
    check_refused(jwt("        private_key_file: rsa.pem\n        signing_alg: ES256\n"),
                  "client_credentials.signing_alg: 'ES256' does not fit the key");
    check_refused(jwt("        private_key_file: rsa.pem\n        signing_alg: HS256\n"),
                  "unknown signing_alg 'HS256' (expected RS256, PS256 or ES256)");
  }
  SUBCASE("keys that cannot sign are refused at load") {
    dir.write("p384.pem", mag::test::private_key_pem(make_ec_key("P-384").pkey.get()));
    dir.write("ed25519.pem", mag::test::private_key_pem(make_ed25519_key().pkey.get()));
    dir.write("rsa1024.pem", mag::test::private_key_pem(make_rsa_key(1024).pkey.get()));
    dir.write("encrypted.pem", mag::test::private_key_pem(ec_key().pkey.get(), "passphrase"));
    dir.write("garbage.pem",
              "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
    for (const char* file : {"p384.pem", "ed25519.pem"}) {
      CAPTURE(file);
      check_refused(jwt(std::string("        private_key_file: ") + file + "\n"),
                    "private_key_file: '" + (dir.path() / file).string() +
                        "': unsupported key type (expected an RSA key or an EC P-256 key)");
    }
    check_refused(jwt("        private_key_file: rsa1024.pem\n"),
                  "the RSA key has fewer than 2048 bits");
    for (const char* file : {"encrypted.pem", "garbage.pem"}) {
      CAPTURE(file);
      check_refused(jwt(std::string("        private_key_file: ") + file + "\n"),
                    "not a PEM private key OpenSSL can read (an encrypted key is not supported)");
    }
    check_refused(jwt("        private_key_file: absent.pem\n"),
                  "client_credentials.private_key_file: cannot open '" +
                      (dir.path() / "absent.pem").string() + "'");
  }
  SUBCASE("a secret is refused, a key is required") {
    check_refused(jwt("        private_key_file: ec.pem\n        client_secret: " + kSecret + "\n"),
                  "client_credentials.client_secret: auth_method private_key_jwt signs with "
                  "'private_key_file': remove 'client_secret'");
    check_refused(jwt(""), "auth_method private_key_jwt needs 'private_key_file'");
  }
}

TEST_CASE("oauth_client_loader: the secret methods need a secret and refuse the key settings") {
  auto cc = [](const std::string& keys) {
    return load_credentials(block("client_credentials",
                                  "        token_endpoint: https://idp.example.com/token\n"
                                  "        client_id: gw\n" +
                                      keys));
  };
  check_refused(cc(""), "client_credentials: missing required key 'client_secret'");
  check_refused(cc("        auth_method: client_secret_post\n"),
                "missing required key 'client_secret'");
  for (const char* key : {"private_key_file: k.pem", "key_id: k1", "signing_alg: ES256"}) {
    CAPTURE(key);
    const std::string name = std::string(key).substr(0, std::string(key).find(':'));
    check_refused(
        cc("        client_secret: " + kSecret + "\n        " + key + "\n"),
        "client_credentials." + name + ": '" + name + "' is only for auth_method private_key_jwt");
  }
  check_refused(cc("        client_secret: \"\"\n"), "the secret must not be empty");
  check_refused(cc("        client_secret: \"" + kSecret + "\\r\\n\"\n"),
                "the secret contains a control character");
  check_refused(cc("        client_secret: [" + kSecret + "]\n"), "expected a string, got a list");
  check_refused(cc("        client_secret: " + kSecret + "\n        auth_method: client_secret\n"),
                "unknown auth_method 'client_secret' (expected client_secret_basic, "
                "client_secret_post or private_key_jwt)");
}

TEST_CASE("oauth_client_loader: the endpoint is https, http only on loopback") {
  auto cc = [](const std::string& where) {
    return load_credentials(block("client_credentials", "        " + where +
                                                            "\n        client_id: gw\n"
                                                            "        client_secret: " +
                                                            kSecret + "\n"));
  };
  for (const char* ok :
       {"token_endpoint: http://localhost:8080/token", "token_endpoint: http://127.0.0.9/t",
        "token_endpoint: http://[::1]:9/token", "issuer: https://idp.example.com"}) {
    CAPTURE(ok);
    CHECK(backend(cc(ok)).client_credentials);
  }
  check_refused(cc("token_endpoint: http://idp.example.com/token"),
                "client_credentials.token_endpoint: 'http://idp.example.com/token' must be https "
                "(http only for localhost, 127.0.0.0/8 or [::1])");
  check_refused(cc("issuer: http://127.example.com"), "client_credentials.issuer:");
  check_refused(cc("token_endpoint: ftp://idp.example.com/token"), "token_endpoint: 'ftp://");
  check_refused(cc("token_endpoint: https://idp.example.com/token?x=1"),
                "must not have a query ('?')");
  check_refused(cc("token_endpoint: https://user:" + kSecret + "@idp.example.com/token"),
                "client_credentials.token_endpoint: the URL must not contain userinfo");
  check_refused(
      cc("token_endpoint: https://idp.example.com\n        issuer: https://idp.example.com"),
      "'token_endpoint' and 'issuer' are exclusive");
  check_refused(cc("audience: x"), "missing required key 'token_endpoint' (or 'issuer')");
  check_refused(cc("ca_file: /etc/ssl/certs/ca-certificates.crt\n        "
                   "token_endpoint: http://127.0.0.1:9/token"),
                "client_credentials.ca_file: 'ca_file' needs an https token endpoint");
}

TEST_CASE("oauth_client_loader: ca_file is a CA bundle read at load") {
  TempDir dir;
  const std::string config = dir.path() / "gateway.yaml";
  dir.write("not-a-ca.pem", "not a certificate\n");
  auto cc = [&](const std::string& ca) {
    return load_credentials(
        block("client_credentials", kSecretBasic + "        ca_file: " + ca + "\n"), config);
  };
  check_refused(cc("not-a-ca.pem"), "client_credentials.ca_file:");
  check_refused(cc("absent.pem"), "client_credentials.ca_file:");
}

TEST_CASE("oauth_client_loader: the other keys' values") {
  auto cc = [](const std::string& keys) {
    return load_credentials(block("client_credentials", kSecretBasic + keys));
  };
  auto te = [](const std::string& keys) {
    return load_credentials(block("token_exchange", kSecretBasic + keys));
  };
  check_refused(cc("        timeout: 0\n"), "client_credentials.timeout");
  check_refused(cc("        timeout: 301\n"), "client_credentials.timeout");
  check_refused(cc("        timeout: 5s\n"), "client_credentials.timeout");
  check_refused(cc("        scopes: [\"a b\"]\n"), "client_credentials.scopes[0]: invalid scope");
  check_refused(cc("        resource: /relative\n"),
                "client_credentials.resource: '/relative' is not an absolute URI");
  check_refused(cc("        resource: https://mcp.example.com/#frag\n"),
                "is not an absolute URI without a fragment");
  check_refused(cc("        audience: \"two words\"\n"),
                "client_credentials.audience: expected at most 2048 visible ASCII characters");
  for (const char* id : {"\"\"", "\"a\\nb\"", "\"g w\""}) {
    CAPTURE(id);
    check_refused(load_credentials(block("client_credentials",
                                         "        token_endpoint: https://idp.example.com/token\n"
                                         "        client_secret: " +
                                             kSecret + "\n        client_id: " + id + "\n")),
                  "client_credentials.client_id: ");
  }
  check_refused(load_credentials(block("client_credentials",
                                       "        token_endpoint: https://idp.example.com/token\n"
                                       "        client_secret: " +
                                           kSecret + "\n")),
                "client_credentials: missing required key 'client_id'");
  check_refused(te(""), "token_exchange: needs 'audience' or 'resource' (or both)");
  check_refused(te("        audience: a\n        requested_token_type: access_token\n"),
                "token_exchange.requested_token_type: 'access_token' is not a token type URI");
  check_refused(te("        audience: a\n        requested_token_type: "
                   "\"urn:ietf:params:oauth:token-type:\"\n"),
                "is not a token type URI");
  check_refused(te("        audience: a\n        cache_entries: 0\n"),
                "token_exchange.cache_entries");
  check_refused(te("        audience: a\n        cache_entries: 1000001\n"),
                "token_exchange.cache_entries");
}

TEST_CASE("oauth_client_loader: unknown keys are refused with a suggestion") {
  check_refused(
      load_credentials(block("client_credentials", kSecretBasic + "        scope: [a]\n")),
      "client_credentials: unknown key 'scope' (did you mean 'scopes'?)");
  // cache_entries and requested_token_type belong to token_exchange only.
  check_refused(
      load_credentials(block("client_credentials", kSecretBasic + "        cache_entries: 5\n")),
      "client_credentials: unknown key 'cache_entries'");
  check_refused(load_credentials(block("token_exchange", kSecretBasic + "        audiense: a\n")),
                "token_exchange: unknown key 'audiense' (did you mean 'audience'?)");
  check_refused(load_credentials(block("client_credential", kSecretBasic)),
                "credentials: unknown key 'client_credential' (did you mean "
                "'client_credentials'?)");
}

TEST_CASE("oauth_client_loader: one OAuth block per upstream, and no static Authorization") {
  check_refused(load_credentials(block("client_credentials", kSecretBasic) +
                                 block("token_exchange", kSecretBasic + "        audience: a\n")),
                "'client_credentials' and 'token_exchange' are exclusive");
  check_refused(load_credentials("      headers: {authorization: \"Bearer " + kSecret + "\"}\n" +
                                 block("client_credentials", kSecretBasic)),
                "credentials.headers.authorization: 'client_credentials' sets Authorization: "
                "remove the static Authorization header");
  check_refused(load_credentials("      headers: {Authorization: \"Bearer " + kSecret + "\"}\n" +
                                 block("token_exchange", kSecretBasic + "        audience: a\n")),
                "'token_exchange' sets Authorization");
}
