// The admin endpoints answering from the snapshot, and the access_log /
// admin config fields.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <thread>

#include "proxy/admin/admin_server.h"
#include "tests/unit/json_test_util.h"
#include "tests/unit/proxy/admin/admin_test_config.h"

using namespace mag;

namespace {

using test::config_yaml;
using test::get_string;
using test::parse_json;

}  // namespace

TEST_CASE("admin: config fields access_log and admin are loaded and checked") {
  auto loaded = config::load_string(config_yaml("access_log: {path: access.log, format: text}\n"),
                                    "/etc/mag/gw.yaml");
  REQUIRE_FALSE(loaded.error);
  CHECK(loaded.config->access_log.path == "/etc/mag/access.log");
  CHECK(loaded.config->access_log.format == "text");
  CHECK_FALSE(loaded.config->admin.address_configured);
  CHECK(proxy::effective_admin_address(loaded.config->admin) == "127.0.0.1:9901");

  auto off = config::load_string(config_yaml("access_log: off\nadmin: {address: \"\"}\n"));
  REQUIRE_FALSE(off.error);
  CHECK_FALSE(off.config->access_log.enabled);
  CHECK(off.config->admin.address_configured);
  CHECK(proxy::effective_admin_address(off.config->admin).empty());

  auto bad = config::load_string(config_yaml("access_log: {format: xml}\n"));
  REQUIRE(bad.error);
  CHECK(bad.error->message.find("access_log.format") != std::string::npos);

  auto clash = config::load_string(config_yaml("admin: {address: \"127.0.0.1:8000\"}\n"));
  REQUIRE(clash.error);
  CHECK(clash.error->message.find("public listener") != std::string::npos);
}

TEST_CASE("admin: endpoints answer from the snapshot") {
  auto loaded = config::load_string(config_yaml());
  REQUIRE_FALSE(loaded.error);
  auto snapshot = std::make_shared<proxy::Snapshot>();
  snapshot->config = loaded.config;
  EventBasePtr base(event_base_new());
  // A provider that has not fetched yet: not ready.
  snapshot->providers.emplace(
      "idp", auth::KeyProvider::create(base.get(), loaded.config->providers.at("idp")));
  proxy::AdminContext context;
  context.snapshot = [snapshot] { return snapshot; };
  context.active_connections = [] { return size_t{7}; };

  CHECK(proxy::handle_admin_request("GET", "/healthz", context).status == 200);
  proxy::AdminResponse ready = proxy::handle_admin_request("GET", "/ready", context);
  CHECK(ready.status == 503);
  JsonPtr doc = parse_json(ready.body);
  REQUIRE(doc);
  json_t* idp = json_object_get(json_object_get(doc.get(), "providers"), "idp");
  REQUIRE(idp);
  CHECK(json_is_false(json_object_get(idp, "ready")));
  CHECK(get_string(idp, "reason").find("no keys") != std::string::npos);

  proxy::AdminResponse stats = proxy::handle_admin_request("GET", "/stats/prometheus", context);
  CHECK(stats.status == 200);
  CHECK(stats.content_type.find("version=0.0.4") != std::string::npos);
  CHECK(stats.body.find("mag_downstream_connections_active 7\n") != std::string::npos);
  CHECK(stats.body.find("mag_jwks_keys_loaded{provider=\"idp\"} 0\n") != std::string::npos);

  JsonPtr dump = parse_json(proxy::handle_admin_request("GET", "/config_dump", context).body);
  REQUIRE(dump);
  json_t* route = json_array_get(json_object_get(dump.get(), "routes"), 0);
  CHECK(get_string(route, "resource") == "http://127.0.0.1:8000/mcp");

  JsonPtr jwks = parse_json(proxy::handle_admin_request("GET", "/jwks_status", context).body);
  REQUIRE(jwks);
  json_t* status = json_object_get(json_object_get(jwks.get(), "providers"), "idp");
  REQUIRE(status);
  CHECK(get_string(status, "source") == "http://as.test/jwks");
  CHECK(json_integer_value(json_object_get(status, "key_count")) == 0);

  CHECK(proxy::handle_admin_request("POST", "/ready", context).status == 405);
  CHECK(proxy::handle_admin_request("GET", "/nope", context).status == 404);
}
