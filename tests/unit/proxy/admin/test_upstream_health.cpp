// /ready's upstream probes: TCP connects on the loop, states per endpoint,
// and /ready's verdict with admin.ready_checks_upstreams on and off.
#include <doctest/doctest.h>

#include <string>

#include "proxy/admin/admin_server.h"
#include "proxy/admin/upstream_health.h"
#include "tests/unit/json_test_util.h"
#include "tests/unit/raw_test_server.h"

using namespace mag;
using namespace std::chrono_literals;

namespace {

std::string two_upstreams(uint16_t up_port, uint16_t down_port, bool checks) {
  return "listeners: [{address: \"127.0.0.1:8000\"}]\n"
         "admin: {address: \"127.0.0.1:8001\", ready_checks_upstreams: " +
         std::string(checks ? "true" : "false") +
         "}\n"
         "upstreams:\n"
         "  up: {url: \"http://127.0.0.1:" +
         std::to_string(up_port) +
         "\"}\n"
         "  down: {url: \"http://127.0.0.1:" +
         std::to_string(down_port) +
         "\"}\n"
         "  unused: {url: \"http://127.0.0.1:1\"}\n"
         "routes:\n"
         "  - {path_prefix: /a, upstream: up, auth: none}\n"
         "  - {path_prefix: /b, upstream: down, auth: none}\n";
}

uint16_t closed_port(event_base* base) {
  testing::RawServer closed(base);
  return closed.port();
}

}  // namespace

TEST_CASE("upstream_health: the config key is loaded and checked") {
  auto on = config::load_string(two_upstreams(1, 2, true));
  REQUIRE_MESSAGE(on.config, (on.error ? on.error->message : ""));
  CHECK(on.config->admin.ready_checks_upstreams);
  auto off = config::load_string(two_upstreams(1, 2, false));
  REQUIRE(off.config);
  CHECK_FALSE(off.config->admin.ready_checks_upstreams);
  auto bad = config::load_string(
      "listeners: [{address: \"127.0.0.1:8000\"}]\n"
      "admin: {ready_checks_upstreams: yes}\n"
      "upstreams: {be: {url: \"http://127.0.0.1:9\"}}\n"
      "routes: [{path_prefix: /, upstream: be, auth: none}]\n");
  REQUIRE(bad.error);
  CHECK(bad.error->message.find("admin.ready_checks_upstreams: expected true or false") !=
        std::string::npos);
}

TEST_CASE("upstream_health: probes every used upstream; /ready names the one that is down") {
  EventBasePtr base(event_base_new());
  testing::RawServer listening(base.get());
  const uint16_t down_port = closed_port(base.get());
  auto loaded = config::load_string(two_upstreams(listening.port(), down_port, true));
  REQUIRE_MESSAGE(loaded.config, (loaded.error ? loaded.error->message : ""));
  auto snapshot = std::make_shared<proxy::Snapshot>();
  snapshot->config = loaded.config;
  proxy::AdminContext context;
  context.snapshot = [snapshot] { return snapshot; };

  proxy::UpstreamHealth health(
      base.get(), [&] { return snapshot->config; }, 10s, 2s);
  // Before the first round: not ready, "not checked yet".
  auto before = proxy::handle_admin_request("GET", "/ready", context, &health);
  CHECK(before.status == 503);
  CHECK(before.body.find("not checked yet") != std::string::npos);

  health.start();
  REQUIRE(testing::run_until(base.get(), [&] {
    auto states = health.states();
    return states.size() == 2 && states[0].checked && states[1].checked;
  }));
  auto states = health.states();
  for (const auto& s : states) {
    CAPTURE(s.upstream);
    CHECK(s.upstream != "unused");  // only upstreams a route uses
    CHECK(s.up == (s.upstream == "up"));
    if (s.upstream == "down") CHECK(s.error.find("cannot connect") == 0);
  }

  auto ready = proxy::handle_admin_request("GET", "/ready", context, &health);
  CHECK(ready.status == 503);
  JsonPtr doc = test::parse_json(ready.body);
  REQUIRE(doc);
  json_t* down = json_object_get(doc.get(), "upstreams_down");
  REQUIRE(json_array_size(down) == 1);
  CHECK(std::string(json_string_value(json_array_get(down, 0))) == "down");
  json_t* upstreams = json_object_get(doc.get(), "upstreams");
  CHECK(json_is_true(json_object_get(json_object_get(upstreams, "up"), "ready")));
  CHECK(json_is_false(json_object_get(json_object_get(upstreams, "down"), "ready")));

  // Without the key, upstream state does not count.
  auto off = config::load_string(two_upstreams(listening.port(), down_port, false));
  REQUIRE(off.config);
  snapshot->config = off.config;
  auto unchecked = proxy::handle_admin_request("GET", "/ready", context, &health);
  CHECK(unchecked.status == 200);
  CHECK(unchecked.body.find("upstreams") == std::string::npos);
  health.stop();
}
