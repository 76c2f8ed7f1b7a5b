// Access-log records: fields, formats, request ids, authorization outcomes.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <thread>

#include "proxy/router/header_forwarding.h"
#include "proxy/telemetry/access_log.h"
#include "proxy/telemetry/metrics.h"
#include "tests/unit/json_test_util.h"

using namespace mag;

namespace {

using test::get_string;
using test::parse_json;

// A request to `route` that jwt_authn allowed, answered with the gateway's
// `reply` (after a refused token exchange when `token_failure`).
void local_reply_after_allow(const std::string& route, const http::ResponseHead& reply,
                             bool token_failure) {
  proxy::RequestTelemetry telemetry(nullptr);
  http::RequestHead head;
  head.method = "POST";
  head.path = route;
  telemetry.on_request(head);
  telemetry.set_route(route);
  telemetry.on_auth(true, "", "alice", "c1");
  if (token_failure) telemetry.on_upstream_token_failure("token_exchange", "invalid_target");
  telemetry.on_local_reply(reply);
}

}  // namespace

TEST_CASE("access_log: JSON lines carry the fields and nothing else") {
  proxy::AccessRecord r;
  r.request_id = "abc-123";
  r.route = "/mcp";
  r.method = "POST";
  r.path = "/mcp";
  r.status = 200;
  r.bytes_sent = 42;
  r.duration_seconds = 0.0125;
  r.upstream_seconds = 0.01;
  r.subject = "alice";
  r.client_id = "client-1";
  r.auth_decision = "allow";
  JsonPtr doc = parse_json(proxy::format_access_json(r));
  REQUIRE(doc);
  CHECK(get_string(doc.get(), "request_id") == "abc-123");
  CHECK(get_string(doc.get(), "route") == "/mcp");
  CHECK(get_string(doc.get(), "sub") == "alice");
  CHECK(get_string(doc.get(), "client_id") == "client-1");
  CHECK(get_string(doc.get(), "auth") == "allow");
  CHECK(json_integer_value(json_object_get(doc.get(), "status")) == 200);
  CHECK(json_integer_value(json_object_get(doc.get(), "bytes_sent")) == 42);
  CHECK(json_real_value(json_object_get(doc.get(), "duration_ms")) == doctest::Approx(12.5));
  CHECK(json_real_value(json_object_get(doc.get(), "upstream_ms")) == doctest::Approx(10));
}

TEST_CASE("access_log: durations are milliseconds rounded to the microsecond, as written") {
  proxy::AccessRecord r;
  r.request_id = "x";
  const std::map<double, std::string> cases = {
      {0.000232, "0.232"},      // not 0.23200000000000001
      {0.0031274999, "3.127"},  // rounded, not truncated
      {0.0123456789, "12.346"}, {0.0, "0.0"},
      {2.0, "2000.0"},          {3600.000123456, "3600000.123"},  // an hour-long event stream
  };
  for (const auto& [seconds, text] : cases) {
    r.duration_seconds = seconds;
    r.upstream_seconds = seconds;
    const std::string line = proxy::format_access_json(r);
    CHECK_MESSAGE(line.find("\"duration_ms\":" + text + ",") != std::string::npos, line);
    CHECK_MESSAGE(line.find("\"upstream_ms\":" + text + ",") != std::string::npos, line);
  }
}

TEST_CASE("access_log: the inspected MCP method and tool are logged, only when known") {
  proxy::AccessRecord r;
  r.request_id = "x";
  JsonPtr none = parse_json(proxy::format_access_json(r));
  REQUIRE(none);
  CHECK(json_object_get(none.get(), "mcp_method") == nullptr);
  CHECK(proxy::format_access_text(r).find(" mcp=") == std::string::npos);

  r.mcp_method = "tools/call";
  r.mcp_tool = "add\nforged";
  JsonPtr doc = parse_json(proxy::format_access_json(r));
  REQUIRE(doc);
  CHECK(get_string(doc.get(), "mcp_method") == "tools/call");
  CHECK(get_string(doc.get(), "mcp_tool") == "add\nforged");
  const std::string line = proxy::format_access_text(r);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find(" mcp=tools/call/add") != std::string::npos);
}

TEST_CASE("access_log: invalid UTF-8 in the path still gives valid JSON") {
  proxy::AccessRecord r;
  r.path = std::string("/mcp/\xff\xfe");
  r.request_id = "x";
  JsonPtr doc = parse_json(proxy::format_access_json(r));
  REQUIRE(doc);
  CHECK(get_string(doc.get(), "path").find("\\xff") != std::string::npos);
}

TEST_CASE("access_log: text format is one line with fixed columns") {
  proxy::AccessRecord r;
  r.request_id = "id1";
  r.method = "GET";
  r.path = "/mcp\nfake line";
  r.status = 401;
  r.auth_decision = "deny";
  r.auth_reason = "expired";
  const std::string line = proxy::format_access_text(r);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find(" 401 ") != std::string::npos);
  CHECK(line.find("auth=deny/expired") != std::string::npos);
}

TEST_CASE("access_log: request ids from clients are kept only when sane") {
  CHECK(proxy::is_sane_request_id("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
  CHECK(proxy::is_sane_request_id("trace:1.2_3"));
  CHECK_FALSE(proxy::is_sane_request_id(""));
  CHECK_FALSE(proxy::is_sane_request_id("has space"));
  CHECK_FALSE(proxy::is_sane_request_id("a\r\nX-Injected: 1"));
  CHECK_FALSE(proxy::is_sane_request_id(std::string(129, 'a')));
  const std::string a = proxy::generate_request_id(), b = proxy::generate_request_id();
  CHECK(a.size() == 32);
  CHECK(a != b);
  CHECK(proxy::is_sane_request_id(a));
}

TEST_CASE("access_log: generated request ids are unique per thread and across threads") {
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {
    const std::string id = proxy::generate_request_id();
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 20000);
  std::string other;
  std::thread([&] { other = proxy::generate_request_id(); }).join();
  CHECK(other.size() == 32);
  // Another thread draws its own random prefix (the first 16 characters).
  CHECK(other.substr(0, 16) != seen.begin()->substr(0, 16));
  CHECK(seen.count(other) == 0);
}

TEST_CASE("access_log: a 403 after authentication counts as an authorization deny") {
  metrics::Registry& registry = metrics::global();
  const metrics::Labels deny = {
      {"route", "/t403"}, {"decision", "deny"}, {"reason", "insufficient_scope"}};
  const metrics::Labels allow = {{"route", "/t403"}, {"decision", "allow"}, {"reason", "ok"}};
  const double deny_before = registry.value("mag_auth_decisions_total", deny);
  const double allow_before = registry.value("mag_auth_decisions_total", allow);
  http::ResponseHead reply;
  reply.status = 403;
  reply.headers.add("WWW-Authenticate", "Bearer error=\"insufficient_scope\", scope=\"x\"");
  local_reply_after_allow("/t403", reply, false);
  CHECK(registry.value("mag_auth_decisions_total", deny) == deny_before + 1);
  CHECK(registry.value("mag_auth_decisions_total", allow) == allow_before);
}

TEST_CASE("access_log: a 403 for a refused token exchange stays an allow, not forbidden") {
  metrics::Registry& registry = metrics::global();
  const metrics::Labels forbidden = {
      {"route", "/tx403"}, {"decision", "deny"}, {"reason", "forbidden"}};
  const double forbidden_before = registry.value("mag_auth_decisions_total", forbidden);
  const metrics::Labels allow = {{"route", "/tx403"}, {"decision", "allow"}, {"reason", "ok"}};
  const double allow_before = registry.value("mag_auth_decisions_total", allow);
  http::ResponseHead reply;
  reply.status = 403;
  local_reply_after_allow("/tx403", reply, true);
  CHECK(registry.value("mag_auth_decisions_total", forbidden) == forbidden_before);
  CHECK(registry.value("mag_auth_decisions_total", allow) == allow_before + 1);
}

TEST_CASE("access_log: the request id replaces the client's X-Request-Id upstream") {
  http::RequestHead down;
  down.method = "GET";
  down.target = down.path = "/mcp";
  down.headers.add("X-Request-Id", "client-value");
  proxy::ForwardContext context;
  context.upstream_host = "127.0.0.1:9000";
  context.request_id = "gateway-id";
  http::RequestHead up = proxy::make_upstream_request(down, context);
  REQUIRE(up.headers.get("x-request-id"));
  CHECK(*up.headers.get("x-request-id") == "gateway-id");
  size_t count = 0;
  for (const auto& field : up.headers) count += http::iequals(field.name, "x-request-id") ? 1 : 0;
  CHECK(count == 1);
}
