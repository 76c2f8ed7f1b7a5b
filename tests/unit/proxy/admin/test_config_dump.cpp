// /config_dump against the config it was made from: every value written in
// tests/data/config/good/full.yaml (which sets every key the loader takes)
// must appear at the same key path of the dump; the defaults of a minimal
// config must appear; secrets never do.
#include <doctest/doctest.h>
#include <jansson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "proxy/admin/config_dump.h"
#include "proxy/config/config.h"
#include "proxy/server/gateway.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/json_test_util.h"

using namespace mag;

namespace {

using test::get_string;
using test::parse_json;

const std::string kFull = std::string(MAG_TESTDATA_DIR) + "/config/good/full.yaml";

// A dump value as text, to compare with a YAML scalar (the loader reads
// every scalar as text: integers and booleans are their decimal / true /
// false spelling).
std::string text_of(json_t* value) {
  if (json_is_string(value)) return json_string_value(value);
  if (json_is_integer(value)) return std::to_string(json_integer_value(value));
  if (json_is_true(value)) return "true";
  if (json_is_false(value)) return "false";
  if (json_is_null(value)) return "<null>";
  return "<not a scalar>";
}

// Walks the YAML input and collects every place where the dump differs.
// The only differences allowed are what the loader itself normalises:
//   1. relative file paths (tls certificate/private_key, jwks_file,
//      ca_file, access_log.path) are resolved against the file's directory;
//   2. `algorithms` and scope lists (`scopes`, each rule of a rule map under
//      `auth`: `tools`, `methods`) are deduplicated, first occurrence kept;
//   3. `auth: none` is auth.enabled == false, `access_log: off|false` is
//      access_log.enabled == false;
//   4. `identity: MODE` sets both identity.sub and identity.client_id;
//   5. a secret (is_secret_field names it) is "[redacted]";
//   6. an upstream credential header's value
//      (upstreams.NAME.credentials.headers.HEADER) is "[redacted]", and so
//      is the file form's `prefix` (part of the value sent); the file form's
//      `file` is a file path (rule 1). Header names with a '.' are not
//      used in full.yaml, so the key path splits on '.';
//   7. an OAuth client's `private_key_file` and the file form of its
//      `client_secret` (`client_secret.file`) are file paths (rule 1).
// Durations need no rule: the YAML takes seconds and the dump shows seconds.
struct DumpWalk {
  std::filesystem::path config_dir;
  std::vector<std::string> mismatches;
  size_t leaves = 0;

  void mismatch(const std::string& path, const std::string& expected, json_t* actual) {
    mismatches.push_back(path + ": file has '" + expected + "', dump has '" + text_of(actual) +
                         "'");
  }

  // "upstreams.NAME.credentials.headers": the map of credential headers.
  static bool is_credential_headers(const std::string& parent) {
    return parent.starts_with("upstreams.") && parent.ends_with(".credentials.headers");
  }
  static std::string parent_of(const std::string& parent) {
    const size_t last = parent.rfind('.');
    return last == std::string::npos ? "" : parent.substr(0, last);
  }
  // Rule 6: a credential value, or the file form's prefix.
  static bool is_credential_secret(const std::string& key, const std::string& parent) {
    return is_credential_headers(parent) ||
           (key == "prefix" && is_credential_headers(parent_of(parent)));
  }

  std::string expected_scalar(const std::string& value, const std::string& key,
                              const std::string& parent) const {
    static const std::set<std::string> kFileKeys = {"certificate", "private_key", "jwks_file",
                                                    "ca_file", "private_key_file"};
    const bool file = kFileKeys.count(key) || (key == "path" && parent == "access_log") ||
                      (key == "file" && (is_credential_headers(parent_of(parent)) ||
                                         parent.ends_with(".client_secret")));
    if (!file || value.empty() || value == "-" || std::filesystem::path(value).is_absolute()) {
      return value;
    }
    return (config_dir / value).lexically_normal().string();
  }

  void scalar(const YAML::Node& node, json_t* dump, const std::string& path, const std::string& key,
              const std::string& parent) {
    ++leaves;
    const std::string value = node.Scalar();
    if ((key == "auth" && value == "none") ||
        (key == "access_log" && (value == "off" || value == "false"))) {
      json_t* enabled = json_object_get(dump, "enabled");
      if (!json_is_false(enabled)) mismatch(path + ".enabled", "false", enabled);
      return;
    }
    if (key == "identity") {
      for (const char* field : {"sub", "client_id"}) {
        json_t* mode = json_object_get(dump, field);
        if (text_of(mode) != value) mismatch(path + "." + field, value, mode);
      }
      return;
    }
    const std::string expected = proxy::is_secret_field(key) || is_credential_secret(key, parent)
                                     ? "[redacted]"
                                     : expected_scalar(value, key, parent);
    if (text_of(dump) != expected) mismatch(path, expected, dump);
  }

  void list(const YAML::Node& node, json_t* dump, const std::string& path, const std::string& key,
            const std::string& parent) {
    const bool scalars = std::all_of(node.begin(), node.end(),
                                     [](const YAML::Node& item) { return item.IsScalar(); });
    if (!scalars) {
      if (!json_is_array(dump) || json_array_size(dump) != node.size()) {
        mismatches.push_back(path + ": dump has no list of " + std::to_string(node.size()));
        return;
      }
      for (size_t i = 0; i < node.size(); ++i) {
        walk(node[i], json_array_get(dump, i), path + "[" + std::to_string(i) + "]", key, parent);
      }
      return;
    }
    // A rule of any map under `auth` (tools, methods, ...) is a scope list.
    const size_t last = parent.rfind('.');
    const bool rule = last != std::string::npos && parent.substr(0, last).ends_with(".auth");
    const bool deduplicated = key == "algorithms" || key == "scopes" || rule;
    std::vector<std::string> expected;
    for (const auto& item : node) {
      ++leaves;
      const std::string value = item.Scalar();
      if (deduplicated && std::find(expected.begin(), expected.end(), value) != expected.end()) {
        continue;
      }
      expected.push_back(value);
    }
    std::vector<std::string> actual;
    for (size_t i = 0; json_is_array(dump) && i < json_array_size(dump); ++i) {
      actual.push_back(text_of(json_array_get(dump, i)));
    }
    if (!json_is_array(dump) || actual != expected) {
      std::string want;
      for (const auto& e : expected) want += (want.empty() ? "" : ", ") + e;
      mismatch(path, "[" + want + "]", dump);
    }
  }

  // `key` is the member's name, `parent` the names of the maps around it
  // without list indices ("routes.auth.tools").
  void walk(const YAML::Node& node, json_t* dump, const std::string& path,
            const std::string& key = "", const std::string& parent = "") {
    if (!dump) {
      mismatches.push_back(path + ": missing from the dump");
      return;
    }
    if (node.IsScalar()) return scalar(node, dump, path, key, parent);
    if (node.IsSequence()) return list(node, dump, path, key, parent);
    if (!node.IsMap()) return;
    if (!json_is_object(dump)) {
      mismatches.push_back(path + ": dump has no map here");
      return;
    }
    for (const auto& member : node) {
      const std::string name = member.first.Scalar();
      walk(member.second, json_object_get(dump, name.c_str()),
           path.empty() ? name : path + "." + name, name,
           parent.empty() ? key : parent + "." + key);
    }
  }
};

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

struct Loaded {
  std::shared_ptr<const config::Config> config;
  std::string text;
  JsonPtr dump;
};

Loaded load_full() {
  Loaded loaded;
  auto result = config::load_file(kFull);
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  loaded.config = result.config;
  loaded.text = proxy::config_dump_json(*result.config);
  loaded.dump = parse_json(loaded.text);
  REQUIRE(loaded.dump);
  return loaded;
}

DumpWalk walk_full(json_t* dump) {
  DumpWalk walk;
  walk.config_dir = std::filesystem::path(kFull).parent_path();
  walk.walk(YAML::LoadFile(kFull), dump, "");
  return walk;
}

json_t* at(json_t* object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) object = json_object_get(object, key);
  return object;
}

json_t* route(json_t* dump, size_t i) {
  return json_array_get(json_object_get(dump, "routes"), i);
}

std::vector<std::string> strings(json_t* array) {
  std::vector<std::string> out;
  for (size_t i = 0; i < json_array_size(array); ++i) {
    out.push_back(text_of(json_array_get(array, i)));
  }
  return out;
}

}  // namespace

TEST_CASE("config_dump: every value of full.yaml appears at its key path") {
  Loaded loaded = load_full();
  DumpWalk walk = walk_full(loaded.dump.get());
  CHECK_MESSAGE(walk.mismatches.empty(), joined(walk.mismatches));
  // full.yaml is large; a walk that compared little would prove nothing.
  CHECK(walk.leaves > 80);
}

TEST_CASE("config_dump: the comparison notices a dropped or changed value") {
  Loaded loaded = load_full();
  SUBCASE("a route's methods rules left out") {
    json_object_del(json_object_get(route(loaded.dump.get(), 0), "auth"), "methods");
    const auto mismatches = walk_full(loaded.dump.get()).mismatches;
    REQUIRE(mismatches.size() == 1);
    CHECK(mismatches[0] == "routes[0].auth.methods: missing from the dump");
  }
  SUBCASE("a deny rule shown as a scope list") {
    json_object_set_new(at(route(loaded.dump.get(), 0), {"auth", "tools"}), "drop_table",
                        json_array());
    const auto mismatches = walk_full(loaded.dump.get()).mismatches;
    REQUIRE(mismatches.size() == 1);
    CHECK(mismatches[0].starts_with("routes[0].auth.tools.drop_table: file has 'deny'"));
  }
  SUBCASE("a duration in another unit") {
    json_object_set_new(loaded.dump.get(), "drain_timeout", json_integer(25000));
    const auto mismatches = walk_full(loaded.dump.get()).mismatches;
    REQUIRE(mismatches.size() == 1);
    CHECK(mismatches[0] == "drain_timeout: file has '25', dump has '25000'");
  }
}

TEST_CASE("config_dump: route timeouts fall back to the upstream's") {
  Loaded loaded = load_full();
  const YAML::Node routes = YAML::LoadFile(kFull)["routes"];
  size_t inherited = 0;
  for (size_t i = 0; i < routes.size(); ++i) {
    json_t* upstream = at(loaded.dump.get(), {"upstreams", routes[i]["upstream"].Scalar().c_str()});
    REQUIRE(upstream);
    for (const char* key : {"connect_timeout", "response_header_timeout", "idle_timeout"}) {
      if (routes[i]["timeouts"] && routes[i]["timeouts"][key]) continue;  // compared by the walk
      CAPTURE(i);
      CAPTURE(key);
      json_t* own = at(route(loaded.dump.get(), i), {"timeouts", key});
      REQUIRE(json_is_integer(own));
      CHECK(json_integer_value(own) == json_integer_value(json_object_get(upstream, key)));
      ++inherited;
    }
  }
  CHECK(inherited >= 3);
  // The upstream's own values are the loaded ones, in seconds.
  CHECK(
      json_integer_value(at(loaded.dump.get(), {"upstreams", "one", "response_header_timeout"})) ==
      std::chrono::duration_cast<std::chrono::seconds>(
          loaded.config->upstreams.at("one").response_header_timeout)
          .count());
}

TEST_CASE("config_dump: derived values of full.yaml") {
  Loaded loaded = load_full();
  json_t* dump = loaded.dump.get();
  CHECK(json_integer_value(json_object_get(dump, "effective_workers")) ==
        static_cast<json_int_t>(proxy::effective_workers(*loaded.config)));
  CHECK(strings(json_object_get(dump, "identity_header_names")) ==
        loaded.config->identity_header_names);
  json_t* listener = json_array_get(json_object_get(dump, "listeners"), 1);
  CHECK(strings(json_object_get(listener, "effective_allowed_origins")) ==
        std::vector<std::string>{"null", "https://app.example.com"});
  CHECK(strings(json_object_get(listener, "effective_allowed_hosts")) ==
        std::vector<std::string>{"gw.example.com", "localhost:8000"});
  // No list of its own, cors lists origins: those; a public address: any host.
  json_t* first = json_array_get(json_object_get(dump, "listeners"), 0);
  CHECK(get_string(first, "allowed_origins") == "default");
  CHECK(strings(json_object_get(first, "effective_allowed_origins")) ==
        std::vector<std::string>{"http://localhost:6274", "https://claude.ai"});
  CHECK(strings(json_object_get(first, "effective_allowed_hosts")) ==
        std::vector<std::string>{"*"});
  json_t* three = at(dump, {"upstreams", "three"});
  CHECK(get_string(three, "url") == "http://10.0.0.1:8080/mcp");
  CHECK(get_string(three, "base_path") == "/mcp");
  CHECK(get_string(three, "host_header_value") == "mcp.internal:8080");
  CHECK(get_string(at(dump, {"upstreams", "one"}), "host_header_value") == "backend-one:9000");
  CHECK(get_string(route(dump, 0), "metadata_path") == "/.well-known/oauth-protected-resource/one");
  CHECK(json_is_null(json_object_get(route(dump, 1), "prefix_rewrite")));
  CHECK(json_is_null(json_object_get(route(dump, 2), "resource")));
}

TEST_CASE("config_dump: a minimal config shows every default") {
  auto result = config::load_string(test::kMinimalConfig, "mem.yaml");
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  JsonPtr doc = parse_json(proxy::config_dump_json(*result.config));
  REQUIRE(doc);
  json_t* dump = doc.get();
  const auto integer = [&](std::initializer_list<const char*> keys) {
    json_t* value = at(dump, keys);
    REQUIRE_MESSAGE(json_is_integer(value), *keys.begin());
    return json_integer_value(value);
  };

  json_t* listener = json_array_get(json_object_get(dump, "listeners"), 0);
  CHECK(json_is_null(json_object_get(listener, "tls")));
  CHECK(get_string(listener, "allowed_origins") == "default");
  CHECK(get_string(listener, "allowed_hosts") == "default");
  // cors allows "*": pages on this machine only; a loopback listener: its
  // loopback names and the routes' resource hosts.
  CHECK(strings(json_object_get(listener, "effective_allowed_origins")) ==
        std::vector<std::string>{"loopback"});
  CHECK(strings(json_object_get(listener, "effective_allowed_hosts")) ==
        std::vector<std::string>{"localhost", "127.0.0.1", "[::1]", "gw.example.com"});
  CHECK(json_integer_value(json_object_get(listener, "request_body_timeout")) == 60);

  CHECK(get_string(json_object_get(dump, "admin"), "address") == "127.0.0.1:9901");
  CHECK(json_is_false(at(dump, {"admin", "address_configured"})));

  json_t* idp = at(dump, {"providers", "idp"});
  CHECK(json_is_null(json_object_get(idp, "jwks_file")));
  CHECK(json_is_null(json_object_get(idp, "ca_file")));
  CHECK(strings(json_object_get(idp, "audiences")).empty());
  CHECK(strings(json_object_get(idp, "algorithms")) == std::vector<std::string>{"RS256"});
  CHECK(integer({"providers", "idp", "clock_skew"}) == 60);
  CHECK(integer({"providers", "idp", "jwks_refresh"}) == 600);
  CHECK(get_string(idp, "token_type") == "jwt");
  CHECK(strings(json_object_get(idp, "required_claims")).empty());
  CHECK(integer({"providers", "idp", "max_lifetime"}) == 0);
  CHECK(json_is_true(json_object_get(idp, "require_exp")));
  CHECK(integer({"providers", "idp", "token_cache_size"}) == 10000);

  json_t* backend = at(dump, {"upstreams", "backend"});
  CHECK(strings(json_object_get(backend, "endpoints")) ==
        std::vector<std::string>{"http://127.0.0.1:9000"});
  CHECK(get_string(backend, "base_path").empty());
  CHECK(integer({"upstreams", "backend", "max_connections"}) == 1024);
  CHECK(integer({"upstreams", "backend", "connect_timeout"}) == 5);
  CHECK(integer({"upstreams", "backend", "response_header_timeout"}) == 60);
  CHECK(integer({"upstreams", "backend", "idle_timeout"}) == 300);
  CHECK(get_string(backend, "host_header") == "upstream");
  CHECK(get_string(backend, "host_header_value") == "127.0.0.1:9000");

  json_t* r = route(dump, 0);
  CHECK(json_is_null(json_object_get(r, "prefix_rewrite")));
  CHECK(json_is_null(json_object_get(r, "resource_name")));
  json_t* auth = json_object_get(r, "auth");
  CHECK(json_is_true(json_object_get(auth, "enabled")));
  CHECK(strings(json_object_get(auth, "providers")) == std::vector<std::string>{"idp"});
  CHECK(strings(json_object_get(auth, "scopes")).empty());
  CHECK(json_object_size(json_object_get(auth, "tools")) == 0);
  CHECK(json_object_size(json_object_get(auth, "methods")) == 0);
  CHECK(json_is_false(json_object_get(auth, "allow_missing")));
  CHECK(json_object_size(json_object_get(r, "claim_to_headers")) == 0);
  CHECK(json_is_null(json_object_get(r, "forward_payload_header")));
  CHECK(json_integer_value(at(r, {"timeouts", "connect_timeout"})) == 5);
  CHECK(json_integer_value(at(r, {"timeouts", "response_header_timeout"})) == 60);
  CHECK(json_integer_value(at(r, {"timeouts", "idle_timeout"})) == 300);

  CHECK(strings(at(dump, {"cors", "allowed_origins"})) == std::vector<std::string>{"*"});
  CHECK(get_string(dump, "log_level") == "info");
  json_t* access_log = json_object_get(dump, "access_log");
  CHECK(json_is_true(json_object_get(access_log, "enabled")));
  CHECK(get_string(access_log, "path") == "-");
  CHECK(get_string(access_log, "format") == "json");
  CHECK(get_string(json_object_get(access_log, "identity"), "sub") == "plain");
  CHECK(get_string(json_object_get(access_log, "identity"), "client_id") == "plain");
  CHECK(json_is_null(json_object_get(access_log, "identity_key")));
  CHECK(integer({"drain_timeout"}) == 10);
  CHECK(integer({"workers"}) == 0);
  CHECK(integer({"effective_workers"}) >= 1);
  CHECK(integer({"authz", "session_idle_timeout"}) == 3600);
  CHECK(integer({"authz", "max_sessions"}) == 100000);
  CHECK(integer({"authz", "max_sessions_per_principal"}) == 1000);
  CHECK(get_string(json_object_get(dump, "authz"), "unknown_sessions") == "refuse");
  CHECK(integer({"authz", "stream_expiry_grace"}) == 0);
  CHECK(integer({"authz", "max_inspected_body"}) == 1048576);
}

TEST_CASE("config_dump: secrets are redacted, names chosen in the file are not") {
  Loaded loaded = load_full();
  const std::string key = loaded.config->access_log.identity_key;
  REQUIRE_FALSE(key.empty());
  CHECK(loaded.text.find(key) == std::string::npos);
  CHECK(get_string(json_object_get(loaded.dump.get(), "access_log"), "identity_key") ==
        "[redacted]");

  CHECK(proxy::is_secret_field("client_secret"));
  CHECK(proxy::is_secret_field("password"));
  CHECK(proxy::is_secret_field("identity_key"));
  CHECK_FALSE(proxy::is_secret_field("issuer"));
  CHECK_FALSE(proxy::is_secret_field("private_key"));  // a file path

  // A tool or claim that happens to be called like a secret is a rule, not a secret.
  auto result = config::load_string(test::kMinimalConfig +
                                    "    auth:\n      tools: {token: deny, password: [admin]}\n"
                                    "    claim_to_headers: {secret: X-Secret-Claim}\n");
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  JsonPtr doc = parse_json(proxy::config_dump_json(*result.config));
  REQUIRE(doc);
  json_t* tools = at(route(doc.get(), 0), {"auth", "tools"});
  CHECK(get_string(tools, "token") == "deny");
  CHECK(strings(json_object_get(tools, "password")) == std::vector<std::string>{"admin"});
  CHECK(get_string(json_object_get(route(doc.get(), 0), "claim_to_headers"), "secret") ==
        "X-Secret-Claim");
}

TEST_CASE("config_dump: upstream credentials show header names and file paths, never values") {
  Loaded loaded = load_full();
  const auto& credentials = loaded.config->upstreams.at("one").credential_headers;
  REQUIRE(credentials.size() == 2);
  for (const auto& header : credentials) {
    CAPTURE(header.name);
    REQUIRE_FALSE(header.value.empty());
    CHECK(loaded.text.find(header.value) == std::string::npos);
  }
  // The file's content without its prefix is nowhere either.
  CHECK(loaded.text.find("full-yaml-file-token-0123") == std::string::npos);
  json_t* headers = at(loaded.dump.get(), {"upstreams", "one", "credentials", "headers"});
  CHECK(get_string(headers, "X-API-Key") == "[redacted]");
  json_t* file_form = json_object_get(headers, "Authorization");
  CHECK(get_string(file_form, "file") ==
        (std::filesystem::path(kFull).parent_path() / "secrets/upstream-token").string());
  CHECK(get_string(file_form, "prefix") == "[redacted]");
  CHECK(json_object_size(file_form) == 2);
  // An upstream without static headers: an empty map; without an OAuth block: no member.
  json_t* none = at(loaded.dump.get(), {"upstreams", "two", "credentials", "headers"});
  CHECK(json_is_object(none));
  CHECK(json_object_size(none) == 0);
  json_t* one = at(loaded.dump.get(), {"upstreams", "one", "credentials"});
  CHECK(json_object_get(one, "client_credentials") == nullptr);
  CHECK(json_object_get(one, "token_exchange") == nullptr);
}

TEST_CASE("config_dump: OAuth clients show file paths, never the secret or the key") {
  Loaded loaded = load_full();
  const auto& two = loaded.config->upstreams.at("two");
  const auto& three = loaded.config->upstreams.at("three");
  REQUIRE(two.client_credentials);
  REQUIRE(three.token_exchange);
  const std::string& secret = two.client_credentials->client.client_secret;
  REQUIRE(secret == "full-yaml-client-secret-0123");
  CHECK(loaded.text.find(secret) == std::string::npos);
  const std::string& pem = three.token_exchange->client.private_key_pem;
  REQUIRE(pem.find("-----BEGIN PRIVATE KEY-----\n") != std::string::npos);
  // The key itself (the middle of the PEM), not just its armour, is nowhere in the dump.
  CHECK(loaded.text.find(pem.substr(pem.size() / 2, 32)) == std::string::npos);
  CHECK(loaded.text.find("BEGIN PRIVATE KEY") == std::string::npos);
  json_t* exchange = at(loaded.dump.get(), {"upstreams", "three", "credentials", "token_exchange"});
  CHECK(get_string(exchange, "private_key_pem") == "[redacted]");
  CHECK(get_string(exchange, "private_key_file") ==
        (std::filesystem::path(kFull).parent_path() / "secrets/oauth-client-key.pem").string());
  CHECK(json_is_null(json_object_get(exchange, "token_endpoint")));
  CHECK(json_is_null(json_object_get(exchange, "client_secret")));
  json_t* client = at(loaded.dump.get(), {"upstreams", "two", "credentials", "client_credentials"});
  CHECK(json_is_null(json_object_get(client, "private_key_pem")));
  CHECK(json_is_null(json_object_get(client, "signing_alg")));
  CHECK(json_object_size(json_object_get(client, "client_secret")) == 1);
}

TEST_CASE("config_dump: an OAuth client's defaults, and a secret written in the file") {
  setenv("MAG_DUMP_TEST_SECRET", "dump-test-secret-value", 1);
  const std::string body =
      "    url: http://127.0.0.1:9000\n    credentials:\n      %s:\n"
      "        token_endpoint: http://127.0.0.1:9/token\n"
      "        client_id: gw\n"
      "        client_secret: ${MAG_DUMP_TEST_SECRET}\n"
      "        audience: api\n";
  for (const std::string block : {"client_credentials", "token_exchange"}) {
    CAPTURE(block);
    std::string upstream = body;
    upstream.replace(upstream.find("%s"), 2, block);
    auto result = config::load_string(test::config_with_upstream(upstream), "mem.yaml");
    REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
    const std::string text = proxy::config_dump_json(*result.config);
    CHECK(text.find("dump-test-secret-value") == std::string::npos);
    JsonPtr doc = parse_json(text);
    REQUIRE(doc);
    json_t* c = at(doc.get(), {"upstreams", "backend", "credentials", block.c_str()});
    REQUIRE(json_is_object(c));
    CHECK(get_string(c, "token_endpoint") == "http://127.0.0.1:9/token");
    CHECK(json_is_null(json_object_get(c, "issuer")));
    CHECK(get_string(c, "client_id") == "gw");
    CHECK(get_string(c, "auth_method") == "client_secret_basic");
    CHECK(get_string(c, "client_secret") == "[redacted]");
    for (const char* unset :
         {"private_key_file", "private_key_pem", "key_id", "signing_alg", "ca_file", "resource"}) {
      CAPTURE(unset);
      CHECK(json_is_null(json_object_get(c, unset)));
    }
    CHECK(json_integer_value(json_object_get(c, "timeout")) == 5);
    CHECK(strings(json_object_get(c, "scopes")).empty());
    CHECK(get_string(c, "audience") == "api");
    if (block == "token_exchange") {
      CHECK(get_string(c, "requested_token_type") ==
            "urn:ietf:params:oauth:token-type:access_token");
      CHECK(json_integer_value(json_object_get(c, "cache_entries")) == 10000);
    } else {
      CHECK(json_object_get(c, "cache_entries") == nullptr);
    }
  }
  unsetenv("MAG_DUMP_TEST_SECRET");
}
