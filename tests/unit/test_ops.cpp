// Operations (issue 7): metrics registry, access-log records, admin
// endpoints, the doctor's checks (with a scripted fetcher) and the
// access_log / admin config fields.
#include <doctest/doctest.h>
#include <jansson.h>

#include <map>
#include <set>
#include <string>
#include <thread>

#include "common/core/c_handles.h"
#include "proxy/access_log.h"
#include "proxy/admin_server.h"
#include "proxy/config.h"
#include "proxy/doctor.h"
#include "proxy/header_forwarding.h"
#include "proxy/metrics.h"
#include "tests/unit/json_test_util.h"

using namespace mag;

namespace {

using test::get_string;
using test::parse_json;

constexpr const char* kIssuer = "http://as.test";

std::string config_yaml(const std::string& extra = "", const std::string& audiences = "[]") {
  return std::string(R"(
listeners: [{address: "127.0.0.1:8000"}]
providers:
  idp:
    issuer: http://as.test
    jwks_uri: http://as.test/jwks
    audiences: )") +
         audiences + R"(
upstreams:
  be: {url: "http://127.0.0.1:9000"}
routes:
  - path_prefix: /mcp
    upstream: be
    resource: http://127.0.0.1:8000/mcp
    auth: {providers: [idp], scopes: [read]}
)" + extra;
}

// A JWKS with one RSA key (the repository's dev key).
std::string dev_jwks() {
  FILE* f = fopen(MAG_SOURCE_DIR "/config/dev/jwks.json", "rb");
  REQUIRE(f);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  fclose(f);
  return text;
}

http::FetchResult ok(std::string body) {
  http::FetchResult r;
  r.ok = true;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

std::string as_metadata(const std::string& issuer, bool s256 = true, bool registration = true) {
  std::string doc = "{\"issuer\":\"" + issuer + "\",\"authorization_endpoint\":\"" + issuer +
                    "/authorize\",\"token_endpoint\":\"" + issuer + "/token\",\"jwks_uri\":\"" +
                    issuer + "/jwks\",\"code_challenge_methods_supported\":[" +
                    (s256 ? "\"S256\"" : "\"plain\"") + "]";
  if (registration) doc += ",\"registration_endpoint\":\"" + issuer + "/register\"";
  return doc + "}";
}

struct ScriptedFetch {
  std::map<std::string, http::FetchResult> responses;
  std::vector<std::string> asked;
  http::FetchResult operator()(const std::string& url, const std::string&) {
    asked.push_back(url);
    auto it = responses.find(url);
    if (it != responses.end()) return it->second;
    http::FetchResult r;
    r.error = "connect failed: refused";
    return r;
  }
};

bool has_finding(const proxy::DoctorReport& report, proxy::Severity s, const std::string& check) {
  for (const auto& f : report.findings) {
    if (f.severity == s && f.check == check) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("metrics: counters, gauges and histograms render in the text format") {
  metrics::Registry r;
  r.declare("t_requests_total", metrics::Type::kCounter, "Requests.");
  r.counter_add("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}});
  r.counter_add("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}}, 2);
  r.counter_add("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}}, -5);  // ignored
  r.gauge_set("t_active", {}, 3);
  r.gauge_add("t_active", {}, -1);
  r.declare("t_seconds", metrics::Type::kHistogram, "Durations.", {0.1, 1});
  r.observe("t_seconds", {{"route", "/mcp"}}, 0.05);
  r.observe("t_seconds", {{"route", "/mcp"}}, 0.5);
  r.observe("t_seconds", {{"route", "/mcp"}}, 5);
  CHECK(r.value("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}}) == 3);
  CHECK(r.value("t_active", {}) == 2);
  const std::string text = r.render_prometheus();
  CHECK(text.find("# TYPE t_requests_total counter\n") != std::string::npos);
  CHECK(text.find("t_requests_total{route=\"/mcp\",status_class=\"2xx\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE t_active gauge\nt_active 2\n") != std::string::npos);
  CHECK(text.find("t_seconds_bucket{route=\"/mcp\",le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("t_seconds_bucket{route=\"/mcp\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("t_seconds_bucket{route=\"/mcp\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("t_seconds_sum{route=\"/mcp\"} 5.55\n") != std::string::npos);
  CHECK(text.find("t_seconds_count{route=\"/mcp\"} 3\n") != std::string::npos);
}

TEST_CASE("metrics: handles update the same series as the name-and-labels calls") {
  metrics::Registry r;
  r.declare("t_hits_total", metrics::Type::kCounter, "Hits.");
  r.declare("t_latency", metrics::Type::kHistogram, "Latency.", {0.1, 1});
  r.declare("t_open", metrics::Type::kGauge, "Open.");
  const metrics::Labels labels = {{"route", "/mcp"}};
  const auto hits = r.handle("t_hits_total", metrics::Type::kCounter, labels);
  const auto latency = r.handle("t_latency", metrics::Type::kHistogram, labels);
  const auto open = r.handle("t_open", metrics::Type::kGauge, {});
  REQUIRE(hits);
  r.add(hits);
  r.add(hits, 2);
  r.counter_add("t_hits_total", labels);
  CHECK(r.value("t_hits_total", labels) == 4);
  r.observe(latency, 0.05);
  r.observe("t_latency", labels, 0.5);
  r.observe(latency, 5);
  CHECK(r.value("t_latency", labels) == 3);
  const std::string text = r.render_prometheus();
  CHECK(text.find("t_latency_bucket{route=\"/mcp\",le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("t_latency_bucket{route=\"/mcp\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("t_latency_count{route=\"/mcp\"} 3\n") != std::string::npos);
  // clear_gauge keeps a series someone holds a handle to (at 0) and drops the others.
  r.add(open, 3);
  r.gauge_set("t_open", {{"other", "x"}}, 7);
  r.clear_gauge("t_open");
  CHECK(r.value("t_open", {}) == 0);
  CHECK(r.render_prometheus().find("t_open{other=") == std::string::npos);
  r.add(open, 1);
  CHECK(r.value("t_open", {}) == 1);
  // A handle of the wrong type is empty and updates nothing.
  CHECK_FALSE(r.handle("t_hits_total", metrics::Type::kGauge, labels));
  r.add(metrics::Registry::Handle{}, 5);
  CHECK(r.value("t_hits_total", labels) == 4);
  // Every registry has its own id (caches of handles are keyed by it).
  metrics::Registry other;
  CHECK(other.id() != r.id());
}

TEST_CASE("metrics: label values are escaped and methods are bounded") {
  CHECK(metrics::render_labels({{"a", "x\"y\\z\nw"}}) == "{a=\"x\\\"y\\\\z\\nw\"}");
  CHECK(metrics::method_label("POST") == "POST");
  CHECK(metrics::method_label("BREW") == "OTHER");
  CHECK(metrics::status_class(204) == "2xx");
  CHECK(metrics::status_class(499) == "4xx");
  CHECK(metrics::status_class(0) == "other");
}

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
  {
    proxy::RequestTelemetry telemetry(nullptr);
    http::RequestHead head;
    head.method = "POST";
    head.path = "/t403";
    telemetry.on_request(head);
    telemetry.set_route("/t403");
    telemetry.on_auth(true, "", "alice", "c1");
    http::ResponseHead reply;
    reply.status = 403;
    reply.headers.add("WWW-Authenticate", "Bearer error=\"insufficient_scope\", scope=\"x\"");
    telemetry.on_local_reply(reply);
  }
  CHECK(registry.value("mag_auth_decisions_total", deny) == deny_before + 1);
  CHECK(registry.value("mag_auth_decisions_total", allow) == allow_before);
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

TEST_CASE("admin: secret members are redacted by name") {
  CHECK(proxy::is_secret_field("client_secret"));
  CHECK(proxy::is_secret_field("password"));
  CHECK_FALSE(proxy::is_secret_field("issuer"));
}

TEST_CASE("doctor: discovery URLs in the order clients try them") {
  CHECK(proxy::authorization_server_metadata_urls("https://as.example") ==
        std::vector<std::string>{"https://as.example/.well-known/oauth-authorization-server",
                                 "https://as.example/.well-known/openid-configuration"});
  CHECK(proxy::authorization_server_metadata_urls("https://as.example/t/org/oauth2/token") ==
        std::vector<std::string>{
            "https://as.example/.well-known/oauth-authorization-server/t/org/oauth2/token",
            "https://as.example/.well-known/openid-configuration/t/org/oauth2/token",
            "https://as.example/t/org/oauth2/token/.well-known/openid-configuration"});
}

TEST_CASE("doctor: a good setup has no errors") {
  auto loaded = config::load_string(config_yaml());
  REQUIRE_FALSE(loaded.error);
  ScriptedFetch fetch;
  fetch.responses["http://as.test/.well-known/oauth-authorization-server"] =
      ok(as_metadata(kIssuer));
  fetch.responses["http://as.test/jwks"] = ok(dev_jwks());
  auto report = proxy::run_doctor(*loaded.config, std::ref(fetch));
  CHECK(report.count(proxy::Severity::kError) == 0);
  CHECK(has_finding(report, proxy::Severity::kOk, "as.issuer"));
  CHECK(has_finding(report, proxy::Severity::kOk, "as.pkce"));
  CHECK(has_finding(report, proxy::Severity::kOk, "jwks.fetch"));
  CHECK(has_finding(report, proxy::Severity::kInfo, "prm.reachable"));
}

TEST_CASE("doctor: wrong issuer, no S256, no registration and JWKS down are reported") {
  auto loaded = config::load_string(config_yaml());
  REQUIRE_FALSE(loaded.error);
  ScriptedFetch fetch;
  fetch.responses["http://as.test/.well-known/oauth-authorization-server"] =
      ok(as_metadata("http://other.test", false, false));
  auto report = proxy::run_doctor(*loaded.config, std::ref(fetch));
  CHECK(has_finding(report, proxy::Severity::kError, "as.issuer"));
  CHECK(has_finding(report, proxy::Severity::kError, "as.pkce"));
  CHECK(has_finding(report, proxy::Severity::kWarning, "as.registration"));
  CHECK(has_finding(report, proxy::Severity::kError, "jwks.fetch"));
  JsonPtr json = parse_json(proxy::format_report_json(report));
  REQUIRE(json);
  CHECK(json_integer_value(json_object_get(json_object_get(json.get(), "summary"), "errors")) == 3);
}

TEST_CASE("doctor: OIDC discovery is the fallback, audiences and served PRM are checked") {
  auto loaded = config::load_string(config_yaml("", "[my-client-id]"));
  REQUIRE_FALSE(loaded.error);
  ScriptedFetch fetch;
  fetch.responses["http://as.test/.well-known/openid-configuration"] = ok(as_metadata(kIssuer));
  fetch.responses["http://as.test/jwks"] = ok(dev_jwks());
  // The gateway is up but serves a document for another resource.
  fetch.responses["http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"] =
      ok(R"({"resource":"http://127.0.0.1:8000/mcp/","authorization_servers":["http://as.test"]})");
  auto report = proxy::run_doctor(*loaded.config, std::ref(fetch));
  CHECK(has_finding(report, proxy::Severity::kOk, "as.metadata"));
  CHECK(has_finding(report, proxy::Severity::kWarning, "audience"));
  INFO(proxy::format_report_text(report));
  CHECK(has_finding(report, proxy::Severity::kError, "prm.resource"));
  CHECK(has_finding(report, proxy::Severity::kWarning, "prm.root"));
  CHECK(proxy::format_report_text(report).find("summary: 1 error(s)") != std::string::npos);
}

TEST_CASE("doctor: resource trailing slash and port mismatch are warned about") {
  std::string yaml = config_yaml();
  const std::string from = "resource: http://127.0.0.1:8000/mcp";
  yaml.replace(yaml.find(from), from.size(), "resource: http://127.0.0.1:8001/mcp/");
  auto loaded = config::load_string(yaml);
  REQUIRE_FALSE(loaded.error);
  ScriptedFetch fetch;
  auto report = proxy::run_doctor(*loaded.config, std::ref(fetch));
  CHECK(has_finding(report, proxy::Severity::kWarning, "resource.trailing_slash"));
  CHECK(has_finding(report, proxy::Severity::kWarning, "resource.port"));
  CHECK(has_finding(report, proxy::Severity::kError, "as.metadata"));
}
