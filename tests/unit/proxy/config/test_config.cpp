#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/tls_test_files.h"

using namespace std::chrono_literals;

namespace {

using mag::config::load_file;
using mag::config::load_string;
using mag::test::config_with_upstream;

const std::string kData = std::string(MAG_TESTDATA_DIR) + "/config/";
const std::string kExamples = std::string(MAG_SOURCE_DIR) + "/config/";

// Sets (or unsets) an environment variable for the scope, restoring the old value.
class EnvGuard {
 public:
  EnvGuard(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~EnvGuard() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::string error_of(const mag::config::LoadResult& result) {
  REQUIRE_FALSE(result.config);
  REQUIRE(result.error);
  return result.error->message;
}

const std::string& kMinimal = mag::test::kMinimalConfig;

}  // namespace

TEST_CASE("config: expand_env") {
  EnvGuard set("MAG_TEST_SET", "value");
  EnvGuard empty("MAG_TEST_EMPTY", "");
  EnvGuard unset("MAG_TEST_UNSET", std::nullopt);
  std::string out, error;

  SUBCASE("plain text and lone dollars are unchanged") {
    REQUIRE(mag::config::expand_env("a $b c$", &out, &error));
    CHECK(out == "a $b c$");
  }
  SUBCASE("set variable") {
    REQUIRE(mag::config::expand_env("x${MAG_TEST_SET}y", &out, &error));
    CHECK(out == "xvaluey");
  }
  SUBCASE("default used when unset or empty, not when set") {
    REQUIRE(mag::config::expand_env(
        "${MAG_TEST_UNSET:-d1}/${MAG_TEST_EMPTY:-d2}/${MAG_TEST_SET:-d3}", &out, &error));
    CHECK(out == "d1/d2/value");
  }
  SUBCASE("default may contain YAML-special characters and be empty") {
    REQUIRE(mag::config::expand_env("${MAG_TEST_UNSET:-http://h:1/p#x: [y]}|${MAG_TEST_UNSET:-}",
                                    &out, &error));
    CHECK(out == "http://h:1/p#x: [y]|");
  }
  SUBCASE("$$ is a literal dollar and is not expanded further") {
    REQUIRE(mag::config::expand_env("pa$$word $${MAG_TEST_SET}", &out, &error));
    CHECK(out == "pa$word ${MAG_TEST_SET}");
  }
  SUBCASE("set but empty without default is empty") {
    REQUIRE(mag::config::expand_env("[${MAG_TEST_EMPTY}]", &out, &error));
    CHECK(out == "[]");
  }
  SUBCASE("unset without default is an error naming the variable") {
    CHECK_FALSE(mag::config::expand_env("${MAG_TEST_UNSET}", &out, &error));
    CHECK(error.find("'MAG_TEST_UNSET' is not set") != std::string::npos);
  }
  SUBCASE("malformed references") {
    CHECK_FALSE(mag::config::expand_env("${MAG_TEST_SET", &out, &error));
    CHECK(error.find("unterminated") != std::string::npos);
    CHECK_FALSE(mag::config::expand_env("${}", &out, &error));
    CHECK_FALSE(mag::config::expand_env("${1A}", &out, &error));
    CHECK_FALSE(mag::config::expand_env("${A-B}", &out, &error));
    CHECK(error.find("invalid variable reference") != std::string::npos);
  }
}

TEST_CASE("config: minimal file loads with defaults and derived fields") {
  auto result = load_string(kMinimal, "mem.yaml");
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& c = *result.config;
  CHECK(c.source == "mem.yaml");
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].address == "127.0.0.1:8000");
  CHECK(c.admin.address.empty());
  CHECK(c.log_level == "info");
  CHECK(c.cors.allowed_origins == std::vector<std::string>{"*"});
  const auto& idp = c.providers.at("idp");
  CHECK(idp.name == "idp");
  CHECK(idp.algorithms == std::vector<std::string>{"RS256"});
  CHECK(idp.clock_skew.count() == 60);
  CHECK(idp.jwks_refresh.count() == 600);
  const auto& up = c.upstreams.at("backend");
  CHECK(up.host == "127.0.0.1");
  CHECK(up.port == 9000);
  CHECK(up.base_path.empty());
  REQUIRE(c.routes.size() == 1);
  const auto& r = c.routes[0];
  CHECK(r.auth.enabled);
  CHECK(r.auth.providers == std::vector<std::string>{"idp"});  // the only provider
  CHECK(r.auth.scopes.empty());
  CHECK(r.metadata_path == "/.well-known/oauth-protected-resource/mcp");
  CHECK(r.resource_metadata_url ==
        "https://gw.example.com/.well-known/oauth-protected-resource/mcp");
}

TEST_CASE("config: good/full.yaml exercises every key") {
  auto result = load_file(kData + "good/full.yaml");
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& c = *result.config;
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].tls_certificate == kData + "good/certs/tls.crt");
  CHECK(c.listeners[0].tls_private_key == "/etc/mag/tls.key");
  CHECK(c.listeners[1].address == "[::1]:8000");
  CHECK(c.admin.address == "127.0.0.1:9901");
  CHECK(c.log_level == "debug");
  const auto& a = c.providers.at("a");
  CHECK(a.audiences == std::vector<std::string>{"client-a", "client: with colon"});
  CHECK(a.algorithms == std::vector<std::string>{"ES256", "RS256"});  // deduplicated
  CHECK(a.clock_skew.count() == 0);
  CHECK(a.jwks_refresh.count() == 300);
  // Relative jwks_file resolves against the config file's directory.
  CHECK(c.providers.at("b").jwks_file == kData + "good/keys/b.json");
  CHECK(c.upstreams.at("one").base_path == "/api");
  CHECK(c.upstreams.at("one").host == "backend-one");
  CHECK(c.upstreams.at("two").host == "::1");
  CHECK(c.upstreams.at("two").port == 80);
  // The OAuth blocks: files resolved against the config's directory and read,
  // scopes deduplicated, the key's algorithm as written.
  const auto& cc = c.upstreams.at("two").client_credentials;
  REQUIRE(cc);
  CHECK(cc->client.auth_method == mag::config::OAuthClient::AuthMethod::kClientSecretPost);
  CHECK(cc->client.client_secret_file == kData + "good/secrets/oauth-client-secret");
  CHECK(cc->client.client_secret == "full-yaml-client-secret-0123");
  CHECK(cc->client.ca_file == kData + "good/certs/oauth-ca.pem");
  CHECK(cc->scopes == std::vector<std::string>{"mcp:read", "mcp:write"});
  const auto& te = c.upstreams.at("three").token_exchange;
  REQUIRE(te);
  CHECK(te->client.issuer == "https://sts.example.com/realm");
  CHECK(te->client.auth_method == mag::config::OAuthClient::AuthMethod::kPrivateKeyJwt);
  CHECK(te->client.private_key_pem.find("-----BEGIN PRIVATE KEY-----") != std::string::npos);
  CHECK(te->client.signing_alg == "ES256");
  CHECK(te->cache_entries == 250);
  CHECK(c.upstreams.at("three").credential_headers.size() == 1);
  REQUIRE(c.routes.size() == 3);
  CHECK(c.routes[0].auth.providers == std::vector<std::string>{"a", "b"});
  CHECK(c.routes[0].auth.scopes == std::vector<std::string>{"mcp"});
  CHECK(c.routes[0].auth.tools.at("add") == std::vector<std::string>{"math:add", "mcp"});
  CHECK(c.routes[0].auth.tools.at("sub").empty());
  CHECK(c.routes[0].resource_name == "Route one");
  CHECK(c.routes[0].prefix_rewrite == std::optional<std::string>("/mcp"));
  CHECK_FALSE(c.routes[1].prefix_rewrite);
  // Origin-only resource: the metadata lives at the root.
  CHECK(c.routes[1].metadata_path == "/.well-known/oauth-protected-resource");
  CHECK(c.routes[1].resource_metadata_url ==
        "https://gw.example.com/.well-known/oauth-protected-resource");
  CHECK_FALSE(c.routes[2].auth.enabled);
  CHECK(c.routes[2].resource.empty());
  CHECK(c.cors.allowed_origins ==
        std::vector<std::string>{"http://localhost:6274", "https://claude.ai"});
}

TEST_CASE("config: example files in config/ load") {
  SUBCASE("dev.yaml with defaults") {
    EnvGuard g1("LISTEN_ADDRESS", std::nullopt), g2("AUTH_ISSUER", std::nullopt),
        g3("JWKS_FILE", std::nullopt), g4("BACKEND_URL", std::nullopt),
        g5("RESOURCE_URL", std::nullopt), g6("ADMIN_ADDRESS", std::nullopt),
        g7("LOG_LEVEL", std::nullopt);
    auto result = load_file(kExamples + "dev.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    const auto& c = *result.config;
    CHECK(c.listeners.at(0).address == "127.0.0.1:8000");
    CHECK(c.providers.at("dev").issuer == "https://dev.mcp-auth-gateway.local");
    CHECK(c.providers.at("dev").jwks_file == kExamples + "dev/jwks.json");
    CHECK(c.routes.at(0).resource == "http://localhost:8000/mcp");
    CHECK(c.routes.at(0).resource_metadata_url ==
          "http://localhost:8000/.well-known/oauth-protected-resource/mcp");
  }
  SUBCASE("dev.yaml with overrides") {
    EnvGuard g1("LISTEN_ADDRESS", "0.0.0.0:18000"), g2("RESOURCE_URL", "https://x.example/m");
    auto result = load_file(kExamples + "dev.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    CHECK(result.config->listeners.at(0).address == "0.0.0.0:18000");
    CHECK(result.config->routes.at(0).metadata_path == "/.well-known/oauth-protected-resource/m");
  }
  SUBCASE("asgardeo.yaml with the quickstart's three variables") {
    EnvGuard g1("AUTH_ISSUER", "https://api.asgardeo.io/t/acme/oauth2/token"),
        g2("CLIENT_ID", "abc123"), g3("JWKS_URL", "https://api.asgardeo.io/t/acme/oauth2/jwks"),
        g4("RESOURCE_URL", std::nullopt);
    auto result = load_file(kExamples + "asgardeo.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    const auto& p = result.config->providers.at("asgardeo");
    CHECK(p.issuer == "https://api.asgardeo.io/t/acme/oauth2/token");
    CHECK(p.jwks_uri == "https://api.asgardeo.io/t/acme/oauth2/jwks");
    CHECK(p.audiences == std::vector<std::string>{"abc123"});
  }
  SUBCASE("asgardeo.yaml without AUTH_ISSUER names the variable and the line") {
    EnvGuard g1("AUTH_ISSUER", std::nullopt), g2("CLIENT_ID", "abc"), g3("JWKS_URL", "https://h/j");
    const std::string error = error_of(load_file(kExamples + "asgardeo.yaml"));
    CHECK(error.find("asgardeo.yaml:12:13: providers.asgardeo.issuer: environment variable "
                     "'AUTH_ISSUER' is not set") != std::string::npos);
  }
  SUBCASE("upstream-credentials.yaml with its two secrets") {
    EnvGuard g1("GITHUB_TOKEN", "ghp_example"), g2("DOCS_API_KEY", "docs-key"),
        g3("LISTEN_ADDRESS", std::nullopt), g4("PUBLIC_URL", std::nullopt);
    auto result = load_file(kExamples + "upstream-credentials.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    const auto& github = result.config->upstreams.at("github").credential_headers;
    REQUIRE(github.size() == 1);
    CHECK(github[0].name == "Authorization");
    CHECK(github[0].value == "Bearer ghp_example");
    const auto& docs = result.config->upstreams.at("docs").credential_headers;
    REQUIRE(docs.size() == 1);
    CHECK(docs[0].name == "X-API-Key");
    CHECK(docs[0].value == "docs-key");
  }
  SUBCASE("upstream-credentials.yaml without GITHUB_TOKEN names the variable, not a value") {
    EnvGuard g1("GITHUB_TOKEN", std::nullopt), g2("DOCS_API_KEY", "docs-key");
    const std::string error = error_of(load_file(kExamples + "upstream-credentials.yaml"));
    CHECK(error.find("upstreams.github.credentials.headers.Authorization: environment variable "
                     "'GITHUB_TOKEN' is not set") != std::string::npos);
  }
  SUBCASE("upstream-credentials.yaml: GitHub's hosted server over https, /github sent as /mcp") {
    EnvGuard g1("GITHUB_TOKEN", "ghp_example"), g2("DOCS_API_KEY", "docs-key"),
        g3("GITHUB_MCP_URL", std::nullopt), g4("DOCS_MCP_URL", std::nullopt);
    auto result = load_file(kExamples + "upstream-credentials.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    const auto& github = result.config->upstreams.at("github");
    CHECK(github.tls);
    CHECK(github.port == 443);
    CHECK(github.ca_file.empty());
    CHECK(github.base_path.empty());
    CHECK(result.config->upstreams.at("docs").base_path.empty());
    const auto& route = result.config->routes.at(0);
    CHECK(route.path_prefix == "/github");
    CHECK(route.prefix_rewrite == std::optional<std::string>("/mcp"));
  }
  SUBCASE("upstream-mtls.yaml with its three files") {
    mag::test::TlsFiles files;
    EnvGuard g1("UPSTREAM_CA_FILE", (files.dir / "ca.pem").string()),
        g2("UPSTREAM_CLIENT_CERT_FILE", (files.dir / "client.crt").string()),
        g3("UPSTREAM_CLIENT_KEY_FILE", (files.dir / "client.key").string()),
        g4("INVENTORY_MCP_URL", std::nullopt);
    auto result = load_file(kExamples + "upstream-mtls.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    const auto& u = result.config->upstreams.at("inventory");
    CHECK(u.tls);
    CHECK(u.ca_file == (files.dir / "ca.pem").string());
    CHECK(u.client_cert_file == (files.dir / "client.crt").string());
    CHECK(u.client_key_file == (files.dir / "client.key").string());
    CHECK(u.tls_server_name == "inventory-mcp.internal.example");
    CHECK(result.config->routes.at(0).prefix_rewrite == std::optional<std::string>("/mcp"));
  }
  SUBCASE("upstream-mtls.yaml without UPSTREAM_CA_FILE names the variable") {
    mag::test::TlsFiles files;
    EnvGuard g1("UPSTREAM_CA_FILE", std::nullopt),
        g2("UPSTREAM_CLIENT_CERT_FILE", (files.dir / "client.crt").string()),
        g3("UPSTREAM_CLIENT_KEY_FILE", (files.dir / "client.key").string());
    const std::string error = error_of(load_file(kExamples + "upstream-mtls.yaml"));
    CHECK(error.find("upstreams.inventory.ca_file: environment variable 'UPSTREAM_CA_FILE' is "
                     "not set") != std::string::npos);
  }
  SUBCASE("multi-route.yaml") {
    EnvGuard g1("PUBLIC_URL", std::nullopt), g2("LISTEN_ADDRESS", std::nullopt);
    auto result = load_file(kExamples + "multi-route.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    const auto& routes = result.config->routes;
    REQUIRE(routes.size() == 2);
    CHECK(routes[0].resource == "http://localhost:8000/math");
    CHECK(routes[1].resource == "http://localhost:8000/everything");
    CHECK(routes[0].upstream != routes[1].upstream);
    CHECK(routes[0].auth.scopes != routes[1].auth.scopes);
    CHECK(routes[0].prefix_rewrite == std::optional<std::string>("/mcp"));
    CHECK(routes[1].prefix_rewrite == std::optional<std::string>("/mcp"));
  }
}

TEST_CASE("config: env values with YAML-special characters stay one scalar") {
  EnvGuard g("MAG_TEST_ISSUER", R"(https://idp.example.com/a#b:[x],{y}&*z|>'"%)");
  std::string yaml = kMinimal;
  yaml.replace(yaml.find("https://idp.example.com\n"), 23, "${MAG_TEST_ISSUER}");
  auto result = load_string(yaml);
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  CHECK(result.config->providers.at("idp").issuer ==
        R"(https://idp.example.com/a#b:[x],{y}&*z|>'"%)");
}

namespace {
struct BadCase {
  const char* file;
  const char* where;    // "file:line:col"
  const char* message;  // substring
};
}  // namespace

TEST_CASE("config: bad files are refused with file:line:column and the key path") {
  const BadCase cases[] = {
      {"empty.yaml", "empty.yaml:1:1:", "the file is empty"},
      {"whitespace.yaml", "whitespace.yaml:1:1:", "the file is empty"},
      {"non_map.yaml", "non_map.yaml:1:1:", "the top level must be a map"},
      {"multi_doc.yaml", "multi_doc.yaml:3:1:", "more than one YAML document"},
      {"duplicate_key.yaml",
       "duplicate_key.yaml:6:5:", "upstreams.backend.url: duplicate key (first defined at line 5)"},
      {"unknown_key.yaml",
       "unknown_key.yaml:8:5:", "routes[0]: unknown key 'upstreem' (did you mean 'upstream'?)"},
      {"wrong_type.yaml", "wrong_type.yaml:2:3:", "listeners: expected a list, got a map"},
      {"wrong_type_integer.yaml",
       "wrong_type_integer.yaml:7:17:", "providers.idp.clock_skew: must be between 0 and 600"},
      {"unknown_upstream.yaml",
       "unknown_upstream.yaml:8:15:", "routes[0].upstream: unknown upstream 'x'"},
      {"missing_resource.yaml",
       "missing_resource.yaml:11:5:", "routes[0]: missing required key 'resource'"},
      {"alg_none.yaml",
       "alg_none.yaml:7:25:", "providers.idp.algorithms[1]: algorithm 'none' is refused"},
      {"alg_hs256.yaml", "alg_hs256.yaml:8:9:",
       "providers.idp.algorithms[0]: symmetric algorithm 'HS256' is refused"},
      {"bad_url.yaml", "bad_url.yaml:6:15:",
       "providers.idp.jwks_uri: 'ftp://idp.example.com/jwks' must start with http:// or https://"},
      {"bad_resource_fragment.yaml", "bad_resource_fragment.yaml:13:15:",
       "routes[0].resource: 'https://gw.example.com/mcp#frag' must not have a fragment"},
      {"alias.yaml", "alias.yaml:2:5:", "YAML anchors ('&name') are not supported"},
      {"tab_indent.yaml", "tab_indent.yaml:4:9:",
       "illegal map value (line 4 is indented with a tab: YAML allows only spaces"},
      {"binary_junk.yaml", "binary_junk.yaml:3:1:", "invalid UTF-8"},
      {"binary_junk_start.yaml", "binary_junk_start.yaml:1:1:", "invalid UTF-8"},
      {"unclosed_flow.yaml", "unclosed_flow.yaml:4:1:", "end of sequence flow not found"},
      {"duplicate_prefix.yaml", "duplicate_prefix.yaml:10:18:",
       "routes[1].path_prefix: duplicate path_prefix '/mcp' (also routes[0])"},
      {"bad_listener.yaml",
       "bad_listener.yaml:2:14:", "listeners[0].address: 'localhost': expected host:port"},
      {"https_upstream_missing_ca.yaml", "https_upstream_missing_ca.yaml:6:14:",
       "upstreams.backend: cannot load CA certificates from"},
      {"unflowed_env.yaml", "unflowed_env.yaml:7:18:", "quote values that use ${...}"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    const std::string path = kData + "bad/" + c.file;
    const std::string error = error_of(load_file(path));
    CAPTURE(error);
    // The message starts with the path as given, then line:column.
    CHECK(error.rfind(kData + "bad/" + c.where, 0) == 0);
    CHECK(error.find(c.message) != std::string::npos);
  }
}

TEST_CASE("config: bad documents built in memory") {
  auto check_error = [](const std::string& yaml, const std::string& where,
                        const std::string& message) {
    const std::string error = error_of(load_string(yaml, "t.yaml"));
    CAPTURE(error);
    CHECK(error.rfind("t.yaml:" + where, 0) == 0);
    CHECK(error.find(message) != std::string::npos);
  };
  auto with = [](const std::string& from, const std::string& to) {
    std::string yaml = kMinimal;
    const size_t at = yaml.find(from);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, from.size(), to);
    return yaml;
  };

  SUBCASE("unset variable names the variable and the position") {
    EnvGuard g("MAG_TEST_NOPE", std::nullopt);
    check_error(with("http://127.0.0.1:9000", "${MAG_TEST_NOPE}"),
                "9:10:", "upstreams.backend.url: environment variable 'MAG_TEST_NOPE' is not set");
  }
  SUBCASE("deep nesting is refused, not a crash") {
    check_error("a: " + std::string(5000, '['), "1:", "nested too deeply");
    std::string block;
    for (int i = 0; i < 700; ++i) block += std::string(i, ' ') + "k:\n";
    check_error(block, "", "nested too deeply");
  }
  SUBCASE("alias bomb is refused before any expansion") {
    std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x]\n";
    for (char c = 'b'; c <= 'j'; ++c) {
      yaml += std::string(1, c) + ": &" + c + " [";
      for (int i = 0; i < 9; ++i) yaml += std::string(i ? ", " : "") + "*" + char(c - 1);
      yaml += "]\n";
    }
    check_error(yaml, "1:4:", "anchors");
  }
  SUBCASE("node count and size caps") {
    std::string many = "a: [";
    for (int i = 0; i < 100001; ++i) many += "1,";
    many += "1]\n";
    check_error(many, "1:", "too many nodes");
    check_error(std::string(1024 * 1024 + 1, '#'), "", "file is larger than");
  }
  SUBCASE("NUL byte") {
    check_error(std::string("listeners:\n  - \0", 17), "2:5:", "control character 0x00");
  }
  SUBCASE("no listeners") {
    check_error(with("  - address: 127.0.0.1:8000\n", ""),
                "2:1:", "listeners: expected a list, got nothing (null)");
  }
  SUBCASE("missing issuer") {
    check_error(with("    issuer: https://idp.example.com\n", ""),
                "5:5:", "providers.idp: missing required key 'issuer'");
  }
  SUBCASE("empty issuer from an empty variable") {
    EnvGuard g("MAG_TEST_EMPTY", "");
    check_error(with("https://idp.example.com\n", "${MAG_TEST_EMPTY}\n"),
                "5:13:", "providers.idp.issuer: must not be empty");
  }
  SUBCASE("both jwks_uri and jwks_file") {
    check_error(with("    jwks_uri:", "    jwks_file: k.json\n    jwks_uri:"),
                "5:5:", "exactly one of 'jwks_uri' and 'jwks_file'");
  }
  SUBCASE("unknown algorithm") {
    check_error(with("    jwks_uri: https://idp.example.com/jwks\n",
                     "    jwks_uri: https://idp.example.com/jwks\n    algorithms: [RS257]\n"),
                "7:18:", "unknown algorithm 'RS257'");
  }
  SUBCASE("clock_skew not a number") {
    check_error(with("    jwks_uri: https://idp.example.com/jwks\n",
                     "    jwks_uri: https://idp.example.com/jwks\n    clock_skew: abc\n"),
                "7:17:", "expected an integer, got 'abc'");
  }
  SUBCASE("clock_skew negative") {
    check_error(with("    jwks_uri: https://idp.example.com/jwks\n",
                     "    jwks_uri: https://idp.example.com/jwks\n    clock_skew: -1\n"),
                "7:17:", "must be between 0 and 600");
  }
  SUBCASE("audiences not a list") {
    check_error(with("    jwks_uri: https://idp.example.com/jwks\n",
                     "    jwks_uri: https://idp.example.com/jwks\n    audiences: abc\n"),
                "7:16:", "providers.idp.audiences: expected a list, got a string");
  }
  SUBCASE("path_prefix without leading slash") {
    check_error(with("path_prefix: /mcp", "path_prefix: mcp"), "11:18:", "must start with '/'");
  }
  SUBCASE("prefix_rewrite must be a plain absolute path") {
    const std::string at = "path_prefix: /mcp";
    check_error(with(at, at + "\n    prefix_rewrite: mcp"),
                "12:21:", "routes[0].prefix_rewrite: must start with '/'");
    for (const char* bad : {"/a/../b", "/a/./b", "/a//b", "/a%2fb", "/a?x", "/a\\\\b", "/a b"}) {
      CAPTURE(bad);
      check_error(with(at, at + "\n    prefix_rewrite: \"" + bad + "\""),
                  "12:21:", "routes[0].prefix_rewrite: must");
    }
    check_error(with(at, at + "\n    prefix_rewrite: /mcp/"), "12:21:", "must not end with '/'");
    check_error(with(at, at + "\n    prefix_rewrite: [/mcp]"), "12:21:", "prefix_rewrite");
  }
  SUBCASE("path_prefix with a dot segment") {
    check_error(with("path_prefix: /mcp", "path_prefix: /a/../mcp"),
                "11:18:", "must not contain '.' or '..' segments");
  }
  SUBCASE("resource with a query") {
    check_error(with("gw.example.com/mcp", "gw.example.com/mcp?x=1"),
                "13:15:", "must not have a query");
  }
  SUBCASE("resource relative") {
    check_error(with("https://gw.example.com/mcp", "/mcp"), "13:15:", "is not an absolute URL");
  }
  SUBCASE("upstream with userinfo") {
    check_error(with("http://127.0.0.1:9000", "http://u:p@127.0.0.1:9000"),
                "9:10:", "must not contain userinfo");
  }
  SUBCASE("upstream port out of range") {
    check_error(with("http://127.0.0.1:9000", "http://127.0.0.1:99999"),
                "9:10:", "upstreams.backend.url");
  }
  SUBCASE("unknown provider in a route") {
    check_error(with("    resource: https://gw.example.com/mcp\n",
                     "    resource: https://gw.example.com/mcp\n    auth: {providers: [nope]}\n"),
                "14:24:", "routes[0].auth.providers[0]: unknown provider 'nope'");
  }
  SUBCASE("auth as an unknown string") {
    check_error(with("    resource: https://gw.example.com/mcp\n",
                     "    resource: https://gw.example.com/mcp\n    auth: off\n"),
                "14:11:", "expected 'none' or a map, got 'off'");
  }
  SUBCASE("scope with a space or quote") {
    check_error(with("    resource: https://gw.example.com/mcp\n",
                     "    resource: https://gw.example.com/mcp\n    auth: {scopes: [\"a b\"]}\n"),
                "14:21:", "routes[0].auth.scopes[0]: invalid scope 'a b'");
  }
  SUBCASE("auth enabled with no providers at all") {
    std::string yaml = with(
        "providers:\n  idp:\n    issuer: https://idp.example.com\n"
        "    jwks_uri: https://idp.example.com/jwks\n",
        "");
    check_error(yaml, "7:5:", "routes[0].auth: auth is enabled but no providers are configured");
  }
  SUBCASE("unknown top-level key with suggestion") {
    check_error(kMinimal + "log_levle: info\n",
                "14:1:", "unknown key 'log_levle' (did you mean 'log_level'?)");
  }
  SUBCASE("bad log level") {
    check_error(kMinimal + "log_level: verbose\n", "14:12:", "log_level: 'verbose' is not one of");
  }
  SUBCASE("two protected routes with the same metadata path") {
    check_error(kMinimal +
                    "  - path_prefix: /other\n    upstream: backend\n"
                    "    resource: https://other.example.com/mcp\n",
                "16:15:",
                "routes[1].resource: resource 'https://other.example.com/mcp' has the same "
                "metadata path");
  }
  SUBCASE("cors origin with a path") {
    check_error(kMinimal + "cors: {allowed_origins: [\"https://a.example/x\"]}\n",
                "14:26:", "must be an origin");
  }
  SUBCASE("Origin and Host allow-lists are read by the request grammar") {
    const auto listener = [&](const std::string& extra) {
      std::string yaml = kMinimal;
      yaml.replace(yaml.find("  - address: 127.0.0.1:8000\n"),
                   std::string("  - address: 127.0.0.1:8000\n").size(),
                   "  - address: 127.0.0.1:8000\n    " + extra + "\n");
      return yaml;
    };
    for (const char* host : {"my_host", "127.1", "host:99999", "[::1]x", "a..b"}) {
      CAPTURE(host);
      check_error(listener(std::string("allowed_hosts: [\"") + host + "\"]"),
                  "3:", "is not a host or host:port");
    }
    for (const char* origin : {"https://a.example/", "https://u@a.example", "a.example"}) {
      CAPTURE(origin);
      check_error(listener(std::string("allowed_origins: [\"") + origin + "\"]"),
                  "3:", "must be an origin");
    }
    check_error(kMinimal + "cors: {allowed_origins: [\"https://127.1\"]}\n",
                "14:26:", "must be an origin");
    const auto ok =
        load_string(listener("allowed_hosts: [\"Gw.Example.com.\", \"[::1]:8000\"]"), "t.yaml");
    CHECK(ok.config);
  }
  SUBCASE("non-scalar key") {
    check_error(kMinimal + "? [a]\n: 1\n", "14:3:", "map keys must be plain strings");
  }
}

TEST_CASE("config: load_file on a missing file") {
  const std::string error = error_of(load_file(kData + "does-not-exist.yaml"));
  CHECK(error.find("cannot open") != std::string::npos);
}

TEST_CASE("config: upstream host_header") {
  using HostHeader = mag::config::Upstream::HostHeader;
  auto with = [](const std::string& value) {
    std::string yaml = kMinimal;
    const std::string url = "    url: http://127.0.0.1:9000\n";
    yaml.replace(yaml.find(url), url.size(), url + "    host_header: " + value + "\n");
    return load_string(yaml, "mem.yaml");
  };
  SUBCASE("default: the upstream's own host") {
    auto result = load_string(kMinimal, "mem.yaml");
    REQUIRE(result.config);
    CHECK(result.config->upstreams.at("backend").host_header == HostHeader::kUpstream);
  }
  SUBCASE("upstream, client, a fixed host[:port]") {
    CHECK(with("upstream").config->upstreams.at("backend").host_header == HostHeader::kUpstream);
    CHECK(with("client").config->upstreams.at("backend").host_header == HostHeader::kClient);
    for (const std::string fixed : {"mcp.internal:8443", "mcp.internal", "'[::1]:9000'"}) {
      auto result = with(fixed);
      REQUIRE(result.config);
      const auto& upstream = result.config->upstreams.at("backend");
      CHECK(upstream.host_header == HostHeader::kFixed);
      CHECK(upstream.host_header_value ==
            (fixed.front() == '\'' ? fixed.substr(1, fixed.size() - 2) : fixed));
    }
  }
  SUBCASE("anything that could split or smuggle a header is refused with its position") {
    for (const std::string bad : {"'a b'", "'evil\\r\\nX: 1'", "'a/b'", "''", "'host:99999'"}) {
      const std::string message = error_of(with(bad));
      CHECK(message.find("mem.yaml:10:18: upstreams.backend.host_header") == 0);
      CHECK(message.find("expected 'upstream', 'client' or a host[:port]") != std::string::npos);
    }
  }
}

TEST_CASE("config: providers.*.token_cache_size") {
  auto with = [](const std::string& value) {
    std::string yaml = kMinimal;
    const std::string anchor = "    jwks_uri: https://idp.example.com/jwks\n";
    yaml.insert(yaml.find(anchor) + anchor.size(), "    token_cache_size: " + value + "\n");
    return load_string(yaml, "mem.yaml");
  };
  auto defaults = load_string(kMinimal, "mem.yaml");
  REQUIRE(defaults.config);
  CHECK(defaults.config->providers.at("idp").token_cache_size == 10000);
  auto small = with("50");
  REQUIRE_MESSAGE(small.config, (small.error ? small.error->message : ""));
  CHECK(small.config->providers.at("idp").token_cache_size == 50);
  auto off = with("0");
  REQUIRE(off.config);
  CHECK(off.config->providers.at("idp").token_cache_size == 0);
  CHECK(error_of(with("1000001")).find("providers.idp.token_cache_size") != std::string::npos);
  CHECK(error_of(with("-1")).find("token_cache_size") != std::string::npos);
  CHECK(error_of(with("lots")).find("token_cache_size") != std::string::npos);
}

TEST_CASE("config: authz.unknown_sessions and authz.max_sessions_per_principal") {
  auto with = [](const std::string& authz) {
    return load_string(kMinimal + "authz:\n" + authz, "mem.yaml");
  };
  auto defaults = load_string(kMinimal, "mem.yaml");
  REQUIRE(defaults.config);
  using Unknown = mag::config::Config::Authz::UnknownSessions;
  CHECK(defaults.config->authz.unknown_sessions == Unknown::kRefuse);
  CHECK(defaults.config->authz.max_sessions_per_principal == 1000);
  auto set = with("  unknown_sessions: adopt\n  max_sessions_per_principal: 7\n");
  REQUIRE_MESSAGE(set.config, (set.error ? set.error->message : ""));
  CHECK(set.config->authz.unknown_sessions == Unknown::kAdopt);
  CHECK(set.config->authz.max_sessions_per_principal == 7);
  auto refuse = with("  unknown_sessions: refuse\n");
  REQUIRE(refuse.config);
  CHECK(refuse.config->authz.unknown_sessions == Unknown::kRefuse);
  // The error names the file, line and column of the value.
  const int line = static_cast<int>(std::count(kMinimal.begin(), kMinimal.end(), '\n')) + 2;
  const std::string bad = error_of(with("  unknown_sessions: trust\n"));
  CHECK(bad.rfind("mem.yaml:" + std::to_string(line) +
                      ":21: authz.unknown_sessions: 'trust' "
                      "is not one of refuse, adopt",
                  0) == 0);
  CHECK(error_of(with("  unknown_sessions: [refuse]\n")).find("authz.unknown_sessions") !=
        std::string::npos);
  CHECK(error_of(with("  max_sessions_per_principal: 0\n"))
            .find("mem.yaml:" + std::to_string(line) +
                  ":31: authz.max_sessions_per_principal: "
                  "must be between 1 and 10000000") == 0);
  CHECK(error_of(with("  max_sessions_per_principal: many\n"))
            .find("authz.max_sessions_per_principal") != std::string::npos);
}

namespace {

constexpr const char* kBase = R"(
listeners: [{address: "127.0.0.1:8080"}]
upstreams:
  up:
    url: http://127.0.0.1:9000
)";

std::string with(const std::string& upstream_extra, const std::string& top_extra = "") {
  return std::string(kBase) + upstream_extra +
         "routes: [{path_prefix: /mcp, upstream: up, auth: none}]\n" + top_extra;
}

}  // namespace
TEST_CASE("transport: defaults when nothing is configured") {
  auto r = mag::config::load_string(with(""));
  REQUIRE_MESSAGE(r.config, (r.error ? r.error->message : ""));
  CHECK(r.config->drain_timeout == std::chrono::seconds(10));
  const auto& up = r.config->upstreams.at("up");
  CHECK(up.max_connections == 1024);
  CHECK(up.connect_timeout == std::chrono::seconds(5));
  CHECK(up.response_header_timeout == std::chrono::seconds(60));
  CHECK(up.idle_timeout == std::chrono::seconds(300));
}

TEST_CASE("transport: drain_timeout and upstream limits are read") {
  auto r =
      mag::config::load_string(with("    max_connections: 8\n"
                                    "    connect_timeout: 2\n"
                                    "    response_header_timeout: 30\n"
                                    "    idle_timeout: 0\n",
                                    "drain_timeout: 3\n"));
  REQUIRE_MESSAGE(r.config, (r.error ? r.error->message : ""));
  CHECK(r.config->drain_timeout == std::chrono::seconds(3));
  const auto& up = r.config->upstreams.at("up");
  CHECK(up.max_connections == 8);
  CHECK(up.connect_timeout == std::chrono::seconds(2));
  CHECK(up.response_header_timeout == std::chrono::seconds(30));
  CHECK(up.idle_timeout == std::chrono::seconds(0));
}

TEST_CASE("transport: out-of-range values are refused with the key's path") {
  struct Case {
    std::string yaml;
    std::string key;
  };
  const Case cases[] = {
      {with("    max_connections: 0\n"), "upstreams.up.max_connections"},
      {with("    connect_timeout: 0\n"), "upstreams.up.connect_timeout"},
      {with("    response_header_timeout: -1\n"), "upstreams.up.response_header_timeout"},
      {with("", "drain_timeout: 100000\n"), "drain_timeout"},
      {with("", "drain_timeout: soon\n"), "drain_timeout"},
  };
  for (const auto& c : cases) {
    auto r = mag::config::load_string(c.yaml);
    CHECK_FALSE(r.config);
    REQUIRE(r.error);
    CHECK_MESSAGE(r.error->message.find(c.key) != std::string::npos, r.error->message);
  }
}

TEST_CASE("config: upstream endpoints and route timeouts") {
  auto result = mag::config::load_string(config_with_upstream(
      "    endpoints: [http://10.0.0.1:9000/base, \"http://[::1]:9001/base/\"]\n"
      "    idle_timeout: 600\n",
      "    timeouts: {idle_timeout: 5, connect_timeout: 2}\n"));
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& u = result.config->upstreams.at("backend");
  REQUIRE(u.endpoints.size() == 2);
  CHECK(u.endpoints[0].host == "10.0.0.1");
  CHECK(u.endpoints[0].port == 9000);
  CHECK(u.endpoints[1].host == "::1");
  CHECK(u.endpoints[1].port == 9001);
  CHECK(u.base_path == "/base");
  CHECK(u.host == "10.0.0.1");  // url/host/port repeat the first endpoint
  CHECK(u.idle_timeout == 600s);
  const auto& t = result.config->routes[0].timeouts;
  CHECK(t.idle_timeout == std::optional<std::chrono::milliseconds>(5s));
  CHECK(t.connect_timeout == std::optional<std::chrono::milliseconds>(2s));
  CHECK_FALSE(t.response_header_timeout);

  // `url` still works and makes one endpoint.
  auto single = mag::config::load_string(config_with_upstream("    url: http://127.0.0.1:9000\n"));
  REQUIRE(single.config);
  REQUIRE(single.config->upstreams.at("backend").endpoints.size() == 1);
  CHECK(single.config->upstreams.at("backend").endpoints[0].port == 9000);
  CHECK_FALSE(single.config->routes[0].timeouts.idle_timeout);
  // The default idle timeout stays long enough for quiet SSE streams.
  CHECK(single.config->upstreams.at("backend").idle_timeout >= 300s);
}

TEST_CASE("config: bad endpoints and route timeouts name file:line:column") {
  auto check_error = [](const std::string& yaml, const std::string& where,
                        const std::string& message) {
    const std::string error = error_of(mag::config::load_string(yaml, "t.yaml"));
    CAPTURE(error);
    CHECK(error.rfind("t.yaml:" + where, 0) == 0);
    CHECK(error.find(message) != std::string::npos);
  };
  check_error(config_with_upstream("    url: http://127.0.0.1:9000\n"
                                   "    endpoints: [http://127.0.0.1:9001]\n"),
              "6:5:", "upstreams.backend: 'url' and 'endpoints' are exclusive");
  check_error(config_with_upstream("    endpoints: []\n"),
              "5:16:", "upstreams.backend.endpoints: must list at least one URL");
  check_error(config_with_upstream("    endpoints: http://127.0.0.1:9001\n"),
              "5:16:", "upstreams.backend.endpoints: expected a list");
  check_error(config_with_upstream("    max_connections: 4\n"),
              "5:5:", "upstreams.backend: missing required key 'url' (or 'endpoints')");
  check_error(config_with_upstream("    endpoints:\n      - http://127.0.0.1:9001\n"
                                   "      - https://127.0.0.1:9002\n"),
              "7:9:",
              "upstreams.backend.endpoints[1]: 'https://127.0.0.1:9002' does not use the first "
              "endpoint's scheme");
  check_error(config_with_upstream("    endpoints: [http://a:1/x, http://b:1/y]\n"),
              "5:31:", "upstreams.backend.endpoints[1]: 'http://b:1/y' has the path '/y'");
  check_error(config_with_upstream("    endpoints: [http://a:1, http://a:1/]\n"),
              "5:29:", "upstreams.backend.endpoints[1]: 'http://a:1/' is listed twice");
  check_error(config_with_upstream("    url: http://127.0.0.1:9000\n", "    timeouts: {idle: 5}\n"),
              "10:16:", "routes[0].timeouts: unknown key 'idle'");
  check_error(config_with_upstream("    url: http://127.0.0.1:9000\n",
                                   "    timeouts: {connect_timeout: 0}\n"),
              "10:33:", "routes[0].timeouts.connect_timeout: must be between 1 and 300");
}
