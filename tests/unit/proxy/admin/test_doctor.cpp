// The doctor's checks, with a scripted fetcher.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "proxy/admin/doctor.h"
#include "tests/unit/json_test_util.h"
#include "tests/unit/proxy/admin/admin_test_config.h"

using namespace mag;

namespace {

using test::config_yaml;
using test::get_string;
using test::parse_json;

constexpr const char* kIssuer = "http://as.test";

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

// An initialize result from an MCP server, as JSON.
http::FetchResult mcp_json_answer(const std::string& session_id = "") {
  http::FetchResult r =
      ok(R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},)"
         R"("serverInfo":{"name":"add-server","version":"1.2.3"}}})");
  r.headers.add("Content-Type", "application/json");
  if (!session_id.empty()) r.headers.add("Mcp-Session-Id", session_id);
  return r;
}

// GETs by URL; other requests by "METHOD URL". Anything unscripted is refused.
struct ScriptedFetch {
  std::map<std::string, http::FetchResult> responses;
  std::vector<std::string> asked;
  std::vector<http::FetchRequest> sent;
  std::vector<bool> sent_with_upstream_tls;
  ScriptedFetch() { responses["POST http://127.0.0.1:9000/mcp"] = mcp_json_answer(); }
  http::FetchResult operator()(const std::string& url, const std::string&) {
    asked.push_back(url);
    return answer(url);
  }
  http::FetchResult operator()(const http::FetchRequest& request,
                               const http::FetchOptions& options) {
    sent.push_back(request);
    sent_with_upstream_tls.push_back(options.upstream_tls != nullptr);
    return answer(request.method + " " + request.url);
  }
  http::FetchResult answer(const std::string& key) {
    auto it = responses.find(key);
    if (it != responses.end()) return it->second;
    http::FetchResult r;
    r.kind = http::FetchError::kConnect;
    r.error = "connect failed: refused";
    return r;
  }
};

proxy::DoctorReport doctor(const config::Config& config, ScriptedFetch& fetch) {
  return proxy::run_doctor(config, std::ref(fetch), std::ref(fetch));
}

const proxy::Finding* find(const proxy::DoctorReport& report, proxy::Severity s,
                           const std::string& check) {
  for (const auto& f : report.findings) {
    if (f.severity == s && f.check == check) return &f;
  }
  return nullptr;
}

bool has_finding(const proxy::DoctorReport& report, proxy::Severity s, const std::string& check) {
  for (const auto& f : report.findings) {
    if (f.severity == s && f.check == check) return true;
  }
  return false;
}

}  // namespace

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
  auto report = doctor(*loaded.config, fetch);
  CHECK(report.count(proxy::Severity::kError) == 0);
  CHECK(has_finding(report, proxy::Severity::kOk, "as.issuer"));
  CHECK(has_finding(report, proxy::Severity::kOk, "as.pkce"));
  CHECK(has_finding(report, proxy::Severity::kOk, "jwks.fetch"));
  CHECK(has_finding(report, proxy::Severity::kInfo, "prm.reachable"));
  const proxy::Finding* upstream = find(report, proxy::Severity::kOk, "upstream.mcp");
  REQUIRE(upstream);
  CHECK(upstream->message.find("add-server 1.2.3") != std::string::npos);
}

TEST_CASE("doctor: wrong issuer, no S256, no registration and JWKS down are reported") {
  auto loaded = config::load_string(config_yaml());
  REQUIRE_FALSE(loaded.error);
  ScriptedFetch fetch;
  fetch.responses["http://as.test/.well-known/oauth-authorization-server"] =
      ok(as_metadata("http://other.test", false, false));
  auto report = doctor(*loaded.config, fetch);
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
  auto report = doctor(*loaded.config, fetch);
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
  auto report = doctor(*loaded.config, fetch);
  CHECK(has_finding(report, proxy::Severity::kWarning, "resource.trailing_slash"));
  CHECK(has_finding(report, proxy::Severity::kWarning, "resource.port"));
  CHECK(has_finding(report, proxy::Severity::kError, "as.metadata"));
}

TEST_CASE("doctor: a provider with a local JWKS file is INFO, with no discovery") {
  const std::string yaml = R"(
listeners: [{address: "127.0.0.1:8000"}]
providers:
  dev:
    issuer: https://dev.mcp-auth-gateway.invalid
    jwks_file: )" + std::string(MAG_SOURCE_DIR) +
                           R"(/config/dev/jwks.json
upstreams:
  be: {url: "http://127.0.0.1:9000"}
routes:
  - path_prefix: /mcp
    upstream: be
    resource: http://localhost:8000/mcp
)";
  auto loaded = config::load_string(yaml);
  REQUIRE_MESSAGE(loaded.config, (loaded.error ? loaded.error->message : ""));
  ScriptedFetch fetch;
  auto report = doctor(*loaded.config, fetch);
  INFO(proxy::format_report_text(report));
  CHECK(report.count(proxy::Severity::kError) == 0);
  const proxy::Finding* info = find(report, proxy::Severity::kInfo, "as.file_key");
  REQUIRE(info);
  CHECK(info->message.find("interactive OAuth clients cannot log in with a dev key") !=
        std::string::npos);
  CHECK(info->message.find("mcp-auth-gateway dev-token") != std::string::npos);
  CHECK(has_finding(report, proxy::Severity::kOk, "jwks.fetch"));
  for (const auto& url : fetch.asked)
    CHECK(url.find("dev.mcp-auth-gateway.invalid") == std::string::npos);
}

TEST_CASE("doctor: the upstream gets an MCP initialize on the route's rewritten path") {
  const std::string yaml = R"(
listeners: [{address: "127.0.0.1:8000"}]
upstreams:
  be: {url: "http://127.0.0.1:9000/base"}
routes:
  - path_prefix: /other
    prefix_rewrite: /mcp
    upstream: be
    auth: none
)";
  auto loaded = config::load_string(yaml);
  REQUIRE_MESSAGE(loaded.config, (loaded.error ? loaded.error->message : ""));

  SUBCASE("healthy over SSE, and the session it opened is deleted") {
    ScriptedFetch fetch;
    http::FetchResult sse =
        ok("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
           "{\"protocolVersion\":\"2025-06-18\",\"serverInfo\":{\"name\":\"s\",\"version\":\"9\"}}}"
           "\n\n");
    sse.headers.add("Content-Type", "text/event-stream");
    sse.headers.add("Mcp-Session-Id", "abc");
    fetch.responses["POST http://127.0.0.1:9000/base/mcp"] = sse;
    auto report = doctor(*loaded.config, fetch);
    INFO(proxy::format_report_text(report));
    const proxy::Finding* ok_finding = find(report, proxy::Severity::kOk, "upstream.mcp");
    REQUIRE(ok_finding);
    CHECK(ok_finding->route == "/other");
    CHECK(ok_finding->message.find("http://127.0.0.1:9000/base/mcp") != std::string::npos);
    CHECK(ok_finding->message.find("MCP server s 9") != std::string::npos);
    REQUIRE(fetch.sent.size() == 2);
    CHECK(fetch.sent[0].method == "POST");
    CHECK(fetch.sent[1].method == "DELETE");
    CHECK(fetch.sent_with_upstream_tls == std::vector<bool>{false, false});  // http://
    CHECK(fetch.sent[1].url == "http://127.0.0.1:9000/base/mcp");
    CHECK(std::count(fetch.sent[1].headers.begin(), fetch.sent[1].headers.end(),
                     std::pair<std::string, std::string>{"Mcp-Session-Id", "abc"}) == 1);
  }
  SUBCASE("down: the transport error is the finding") {
    ScriptedFetch fetch;
    auto report = doctor(*loaded.config, fetch);
    const proxy::Finding* error = find(report, proxy::Severity::kError, "upstream.mcp");
    REQUIRE(error);
    CHECK(error->message.find("connect failed: refused") != std::string::npos);
    CHECK(fetch.sent.size() == 1);  // no session, no DELETE
  }
  SUBCASE("an HTTP error status and a non-MCP answer are errors") {
    ScriptedFetch fetch;
    http::FetchResult not_found = ok("{}");
    not_found.status = 404;
    fetch.responses["POST http://127.0.0.1:9000/base/mcp"] = not_found;
    auto report = doctor(*loaded.config, fetch);
    const proxy::Finding* error = find(report, proxy::Severity::kError, "upstream.mcp");
    REQUIRE(error);
    CHECK(error->message.find("answered HTTP 404") != std::string::npos);

    ScriptedFetch html;
    http::FetchResult page = ok("<html></html>");
    page.headers.add("Content-Type", "text/html");
    html.responses["POST http://127.0.0.1:9000/base/mcp"] = page;
    report = doctor(*loaded.config, html);
    error = find(report, proxy::Severity::kError, "upstream.mcp");
    REQUIRE(error);
    CHECK(error->message.find("not an MCP server") != std::string::npos);
  }
}
