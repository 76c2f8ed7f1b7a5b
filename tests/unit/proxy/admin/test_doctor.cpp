// The doctor's checks, with a scripted fetcher.
#include <doctest/doctest.h>

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
