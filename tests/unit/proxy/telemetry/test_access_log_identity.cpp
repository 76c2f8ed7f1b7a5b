// access_log.identity: how the token's `sub` and `client_id`
// appear in access-log lines — plain, keyed hash, or left out — and the
// config keys that choose it.
#include <doctest/doctest.h>
#include <jansson.h>

#include <string>

#include "common/core/c_handles.h"
#include "proxy/admin/config_dump.h"
#include "proxy/config/config.h"
#include "proxy/telemetry/access_log.h"
#include "proxy/telemetry/access_log_identity.h"
#include "tests/unit/json_test_util.h"

using namespace mag;
using proxy::AccessLogIdentity;
using proxy::IdentityMode;

namespace {

using test::get_string;
using test::parse_json;

proxy::AccessRecord record(std::string subject, std::string client_id) {
  proxy::AccessRecord r;
  r.request_id = "id-1";
  r.method = "POST";
  r.path = "/mcp";
  r.status = 200;
  r.auth_decision = "allow";
  r.subject = std::move(subject);
  r.client_id = std::move(client_id);
  return r;
}

bool is_lower_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

const std::string kKey = "0123456789abcdef-test-key";

std::string config_with(const std::string& access_log) {
  return R"(listeners: [{address: "127.0.0.1:8000"}]
upstreams:
  be: {url: "http://127.0.0.1:9000"}
routes:
  - {path_prefix: /mcp, upstream: be, auth: none}
)" + access_log;
}

}  // namespace

TEST_CASE("access_log identity: the hash is HMAC-SHA-256 truncated to 128 bits") {
  // RFC 4231 test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?").
  CHECK(proxy::identity_hash("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c7");
  CHECK(proxy::identity_hash(kKey, "alice") == proxy::identity_hash(kKey, "alice"));
  CHECK(proxy::identity_hash(kKey, "alice") != proxy::identity_hash(kKey, "bob"));
  CHECK(proxy::identity_hash(kKey, "alice") != proxy::identity_hash(kKey + "x", "alice"));
}

TEST_CASE("access_log identity: plain is the default and logs the values as they are") {
  JsonPtr doc = parse_json(proxy::format_access_json(record("alice@example.com", "app-1")));
  REQUIRE(doc);
  CHECK(get_string(doc.get(), "sub") == "alice@example.com");
  CHECK(get_string(doc.get(), "client_id") == "app-1");
  const std::string text = proxy::format_access_text(record("alice@example.com", "app-1"));
  CHECK(text.find(" sub=alice@example.com client_id=app-1") != std::string::npos);
}

TEST_CASE("access_log identity: hash replaces both values by stable keyed hashes") {
  const AccessLogIdentity identity(IdentityMode::kHash, IdentityMode::kHash, kKey);
  const auto r = record("alice@example.com", "app-1");
  const std::string line = proxy::format_access_json(r, identity);
  JsonPtr doc = parse_json(line);
  REQUIRE(doc);
  const std::string sub = get_string(doc.get(), "sub");
  CHECK(sub.size() == 32);
  CHECK(is_lower_hex(sub));
  CHECK(sub == proxy::identity_hash(kKey, "alice@example.com"));
  CHECK(get_string(doc.get(), "client_id") == proxy::identity_hash(kKey, "app-1"));
  CHECK(line.find("alice") == std::string::npos);
  CHECK(line.find("app-1") == std::string::npos);
  // The same subject gives the same value on every line: requests correlate.
  JsonPtr again =
      parse_json(proxy::format_access_json(record("alice@example.com", "app-2"), identity));
  REQUIRE(again);
  CHECK(get_string(again.get(), "sub") == sub);
  CHECK(get_string(again.get(), "client_id") != get_string(doc.get(), "client_id"));

  const std::string text = proxy::format_access_text(r, identity);
  CHECK(text.find(" sub=" + sub + " client_id=" + proxy::identity_hash(kKey, "app-1")) !=
        std::string::npos);
  CHECK(text.find("alice") == std::string::npos);
}

TEST_CASE("access_log identity: no token stays null in hash mode") {
  const AccessLogIdentity identity(IdentityMode::kHash, IdentityMode::kHash, kKey);
  JsonPtr doc = parse_json(proxy::format_access_json(record("", ""), identity));
  REQUIRE(doc);
  CHECK(json_is_null(json_object_get(doc.get(), "sub")));
  CHECK(json_is_null(json_object_get(doc.get(), "client_id")));
  CHECK(proxy::format_access_text(record("", ""), identity).find(" sub=- client_id=-") !=
        std::string::npos);
}

TEST_CASE("access_log identity: omit leaves the fields out, per field") {
  const AccessLogIdentity omit_sub(IdentityMode::kOmit, IdentityMode::kPlain, "");
  const std::string line = proxy::format_access_json(record("alice", "app-1"), omit_sub);
  JsonPtr doc = parse_json(line);
  REQUIRE(doc);
  CHECK(json_object_get(doc.get(), "sub") == nullptr);
  CHECK(get_string(doc.get(), "client_id") == "app-1");
  CHECK(line.find("alice") == std::string::npos);
  const std::string text = proxy::format_access_text(record("alice", "app-1"), omit_sub);
  CHECK(text.find(" sub=") == std::string::npos);
  CHECK(text.find(" client_id=app-1") != std::string::npos);
  CHECK(text.find("alice") == std::string::npos);

  const AccessLogIdentity omit_both(IdentityMode::kOmit, IdentityMode::kOmit, "");
  JsonPtr none = parse_json(proxy::format_access_json(record("alice", "app-1"), omit_both));
  REQUIRE(none);
  CHECK(json_object_get(none.get(), "sub") == nullptr);
  CHECK(json_object_get(none.get(), "client_id") == nullptr);
  CHECK(get_string(none.get(), "auth") == "allow");  // the rest of the line is unchanged
}

TEST_CASE("access_log identity: config keys") {
  SUBCASE("default: plain for both") {
    auto loaded = config::load_string(config_with(""));
    REQUIRE_FALSE(loaded.error);
    CHECK(loaded.config->access_log.identity_sub == "plain");
    CHECK(loaded.config->access_log.identity_client_id == "plain");
  }
  SUBCASE("one mode for both fields") {
    auto loaded = config::load_string(config_with("access_log: {identity: omit}\n"));
    REQUIRE_FALSE(loaded.error);
    CHECK(loaded.config->access_log.identity_sub == "omit");
    CHECK(loaded.config->access_log.identity_client_id == "omit");
  }
  SUBCASE("per field, with a key") {
    auto loaded = config::load_string(
        config_with("access_log:\n  identity: {sub: hash}\n  identity_key: \"" + kKey + "\"\n"));
    REQUIRE_FALSE(loaded.error);
    CHECK(loaded.config->access_log.identity_sub == "hash");
    CHECK(loaded.config->access_log.identity_client_id == "plain");
    CHECK(loaded.config->access_log.identity_key == kKey);
  }
  SUBCASE("an unknown mode: file:line:col and the key path") {
    auto bad = config::load_string(config_with("access_log:\n  identity: hashed\n"), "gw.yaml");
    REQUIRE(bad.error);
    CHECK(bad.error->message ==
          "gw.yaml:7:13: access_log.identity: 'hashed' is not one of plain, hash, omit");
  }
  SUBCASE("an unknown mode for one field") {
    auto bad = config::load_string(
        config_with("access_log:\n  identity: {sub: hash, client_id: secret}\n"), "gw.yaml");
    REQUIRE(bad.error);
    CHECK(bad.error->message.rfind("gw.yaml:7:", 0) == 0);
    CHECK(bad.error->message.find("access_log.identity.client_id: 'secret'") != std::string::npos);
  }
  SUBCASE("an unknown field") {
    auto bad = config::load_string(config_with("access_log:\n  identity: {subject: hash}\n"));
    REQUIRE(bad.error);
    CHECK(bad.error->message.find("unknown key 'subject'") != std::string::npos);
  }
  SUBCASE("a list") {
    auto bad = config::load_string(config_with("access_log:\n  identity: [hash]\n"));
    REQUIRE(bad.error);
    CHECK(bad.error->message.find("expected plain, hash, omit or a map") != std::string::npos);
  }
  SUBCASE("a short key") {
    auto bad = config::load_string(
        config_with("access_log:\n  identity: hash\n  identity_key: short\n"), "gw.yaml");
    REQUIRE(bad.error);
    CHECK(bad.error->message.rfind("gw.yaml:8:17: access_log.identity_key: must be at least 16",
                                   0) == 0);
  }
  SUBCASE("a key while nothing is hashed") {
    auto bad = config::load_string(
        config_with("access_log:\n  identity: omit\n  identity_key: \"" + kKey + "\"\n"));
    REQUIRE(bad.error);
    CHECK(bad.error->message.find("only used with identity: hash") != std::string::npos);
  }
}

TEST_CASE("access_log identity: from the config, with and without a key") {
  config::AccessLog keyed;
  keyed.identity_sub = "hash";
  keyed.identity_client_id = "omit";
  keyed.identity_key = kKey;
  AccessLogIdentity identity;
  std::string error;
  REQUIRE(AccessLogIdentity::from_config(keyed, &identity, &error));
  CHECK(identity.subject("alice") == proxy::identity_hash(kKey, "alice"));
  CHECK_FALSE(identity.client_id("app-1").has_value());

  // No key: one random key per process, the same for every sink (config
  // reloads keep the values), and not the empty key.
  config::AccessLog random;
  random.identity_sub = random.identity_client_id = "hash";
  AccessLogIdentity a, b;
  REQUIRE(AccessLogIdentity::from_config(random, &a, &error));
  REQUIRE(AccessLogIdentity::from_config(random, &b, &error));
  const auto hashed = a.subject("alice");
  REQUIRE(hashed.has_value());
  CHECK(hashed == b.subject("alice"));
  CHECK(*hashed != "alice");
  CHECK(*hashed != proxy::identity_hash("", "alice"));
  CHECK(*hashed != proxy::identity_hash(kKey, "alice"));
  CHECK(a.client_id("alice") == hashed);
}

TEST_CASE("access_log identity: /config_dump shows the modes, never the key") {
  auto loaded = config::load_string(config_with(
      "access_log:\n  identity: {sub: hash, client_id: omit}\n  identity_key: \"" + kKey + "\"\n"));
  REQUIRE_FALSE(loaded.error);
  const std::string dump = proxy::config_dump_json(*loaded.config);
  CHECK(dump.find(kKey) == std::string::npos);
  JsonPtr doc = parse_json(dump);
  REQUIRE(doc);
  json_t* access_log = json_object_get(doc.get(), "access_log");
  CHECK(get_string(json_object_get(access_log, "identity"), "sub") == "hash");
  CHECK(get_string(json_object_get(access_log, "identity"), "client_id") == "omit");
  CHECK(get_string(access_log, "identity_key") == "[redacted]");
}
