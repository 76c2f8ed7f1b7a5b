// claim_to_headers (JWT-CLM-16, H1-55): config validation of the header
// names, the rendering of every claim type (hostile strings included), the
// omission metric, and the stripping of client copies on every route.
#include <doctest/doctest.h>

#include <string>

#include "proxy/auth/jwt_compact.h"
#include "proxy/config/config.h"
#include "proxy/mcp/identity_headers.h"
#include "proxy/telemetry/metrics.h"
#include "tests/unit/config_test_util.h"

using mag::proxy::ClaimRendering;
using mag::proxy::render_claim;
using Status = mag::proxy::ClaimRendering::Status;

namespace {

// Two routes on one upstream: /mcp maps claims, /open is public.
std::string config_text(const std::string& mapping) {
  return mag::test::kMinimalConfig + mapping + R"(
  - path_prefix: /open
    upstream: backend
    auth: none
)";
}

std::string load_error(const std::string& mapping) {
  auto result = mag::config::load_string(config_text(mapping), "claims.yaml");
  REQUIRE_FALSE(result.config);
  REQUIRE(result.error);
  return result.error->message;
}

ClaimRendering render(const std::string& payload_json, const std::string& claim) {
  const auto payload = mag::auth::parse_json_object(payload_json);
  REQUIRE(payload);
  return render_claim(payload.get(), claim);
}

// A compact JWS whose payload is `payload_json` (add_identity_headers reads
// only the payload: the signature was checked before).
std::string token_with(const std::string& payload_json) {
  return mag::auth::base64url_encode(R"({"alg":"RS256"})") + "." +
         mag::auth::base64url_encode(payload_json) + ".c2ln";
}

}  // namespace

TEST_CASE("claim_to_headers: header names are validated with file:line:col") {
  CHECK(load_error("    claim_to_headers: {sub: \"X Auth\"}") ==
        "claims.yaml:14:29: routes[0].claim_to_headers.sub: 'X Auth' is not a header name "
        "(letters, digits, '-', '_')");
  CHECK(load_error("    claim_to_headers: {sub: \"X-Auth:1\"}").find("is not a header name") !=
        std::string::npos);
  for (const char* reserved : {"Host", "authorization", "Content-Length", "Transfer-Encoding", "TE",
                               "Keep-Alive", "Upgrade", "Proxy-Authorization", "Connection",
                               "X-Forwarded-For", "Forwarded", "X-Request-Id", "Mcp-Session-Id"}) {
    CAPTURE(reserved);
    CHECK(load_error(std::string("    claim_to_headers: {sub: ") + reserved + "}")
              .find("is a header the gateway must not overwrite") != std::string::npos);
  }
  // Claims are read in name order: client_id first, so `sub` is the repeat.
  CHECK(load_error("    claim_to_headers: {sub: X-Who, client_id: x-who}") ==
        "claims.yaml:14:29: routes[0].claim_to_headers.sub: header 'X-Who' is already used by "
        "this route");
  CHECK(load_error("    claim_to_headers: {sub: X-Who}\n    forward_payload_header: X-WHO")
            .find("routes[0].forward_payload_header: header 'X-WHO' is already used") !=
        std::string::npos);
  CHECK(load_error("    claim_to_headers: {\"a b\": X-Who}").find("invalid claim name") !=
        std::string::npos);
  CHECK(load_error("    claim_to_headers: {sub: " + std::string(257, 'x') + "}")
            .find("is not a header name") != std::string::npos);
}

TEST_CASE("claim_to_headers: any claim; the names of every route are collected") {
  auto result = mag::config::load_string(
      config_text("    claim_to_headers: {sub: X-Auth-Subject, roles: X-Auth-Roles, "
                  "\"https://example.com/tenant\": X-Tenant}\n"
                  "    forward_payload_header: X-JWT-Payload"));
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& route = result.config->routes[0];
  REQUIRE(route.claim_to_headers.size() == 3);
  CHECK(result.config->identity_header_names.size() == 4);
  CHECK(result.config->routes[1].claim_to_headers.empty());
}

TEST_CASE("claim_to_headers: strings are copied only as valid field values") {
  auto ok = render(R"({"sub":"alice@example.com"})", "sub");
  CHECK(ok.status == Status::kOk);
  CHECK(ok.value == "alice@example.com");
  // UTF-8 passes unchanged (obs-text bytes in HTTP/1.1).
  CHECK(render(R"({"name":"Jos\u00e9"})", "name").value == "Jos\xc3\xa9");
  CHECK(render(R"({"scope":"mcp:access math:add"})", "scope").value == "mcp:access math:add");

  for (const char* hostile : {R"("eve\r\nX-Admin: yes")", R"("eve\nX")", R"("eve\rX")",
                              R"("tab\there")", R"("del\u007f")", R"("\u001b[31m")"}) {
    CAPTURE(hostile);
    auto r = render(std::string(R"({"sub":)") + hostile + "}", "sub");
    CHECK(r.status == Status::kRefused);
    CHECK(r.reason == "control_character");
    CHECK(r.value.empty());
  }
  // NUL: a token's payload with \u0000 is refused by the verifier's parser
  // (the token is malformed); a string holding one is still not sent.
  CHECK_FALSE(mag::auth::parse_json_object(R"({"sub":"nul\u0000byte"})"));
  const mag::JsonPtr with_nul(json_object());
  json_object_set_new(with_nul.get(), "sub", json_stringn("nul\0byte", 8));
  CHECK(render_claim(with_nul.get(), "sub").reason == "control_character");

  CHECK(render(R"({"sub":" alice"})", "sub").reason == "edge_whitespace");
  CHECK(render(R"({"sub":"alice "})", "sub").reason == "edge_whitespace");

  // 10 KB: omitted, never truncated.
  auto big = render(R"({"sub":")" + std::string(10 * 1024, 'a') + "\"}", "sub");
  CHECK(big.status == Status::kRefused);
  CHECK(big.reason == "too_long");
  CHECK(big.value.empty());
  // The bound is exact: 4096 bytes pass, 4097 do not.
  CHECK(render(R"({"sub":")" + std::string(4096, 'a') + "\"}", "sub").value.size() == 4096);
  CHECK(render(R"({"sub":")" + std::string(4097, 'a') + "\"}", "sub").reason == "too_long");
}

TEST_CASE("claim_to_headers: absent, null and empty claims send no header") {
  CHECK(render(R"({"sub":"a"})", "email").status == Status::kAbsent);
  CHECK(render(R"({"email":null})", "email").status == Status::kAbsent);
  CHECK(render(R"({"email":""})", "email").status == Status::kAbsent);
}

TEST_CASE("claim_to_headers: numbers and booleans as JSON text, arrays and objects as base64url") {
  CHECK(render(R"({"exp":2000000000})", "exp").value == "2000000000");
  CHECK(render(R"({"n":-42})", "n").value == "-42");
  CHECK(render(R"({"r":0.1})", "r").value == "0.1");
  CHECK(render(R"({"r":1.5e300})", "r").value == "1.5e300");
  CHECK(render(R"({"r":2.0})", "r").value == "2.0");
  CHECK(render(R"({"admin":true})", "admin").value == "true");
  CHECK(render(R"({"admin":false})", "admin").value == "false");

  // Compact JSON, member order kept, then unpadded base64url.
  auto aud = render(R"({"aud": ["https://gw/mcp", "client-1"]})", "aud");
  CHECK(aud.status == Status::kOk);
  CHECK(aud.value == mag::auth::base64url_encode(R"(["https://gw/mcp","client-1"])"));
  auto obj = render(R"({"act": {"sub": "svc", "n": 1}})", "act");
  CHECK(*mag::auth::base64url_decode(obj.value) == R"({"sub":"svc","n":1})");
  // Hostile bytes inside an array are JSON-escaped, then encoded: safe.
  auto nested = render(R"({"roles":["a\r\nX-Admin: yes","\u0001"]})", "roles");
  CHECK(nested.status == Status::kOk);
  CHECK(nested.value.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(*mag::auth::base64url_decode(nested.value) == R"(["a\r\nX-Admin: yes","\u0001"])");
  // The 4 KiB bound applies to the encoded value.
  std::string many = R"({"roles":[)";
  for (int i = 0; i < 400; ++i)
    many += std::string(i ? "," : "") + "\"role-" + std::to_string(i) + "\"";
  CHECK(render(many + "]}", "roles").reason == "too_long");
}

TEST_CASE("claim_to_headers: headers from the token payload; refusals are counted, not sent") {
  auto result = mag::config::load_string(
      config_text("    claim_to_headers: {sub: X-Auth-Subject, scope: X-Auth-Scope, exp: X-Exp, "
                  "aud: X-Aud, email: X-Email}\n    forward_payload_header: X-JWT-Payload"));
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& route = result.config->routes[0];
  const mag::metrics::Labels labels = {
      {"route", "/mcp"}, {"claim", "sub"}, {"reason", "control_character"}};
  const double before = mag::metrics::global().value("mag_claim_headers_omitted_total", labels);

  const std::string payload =
      R"({"sub":"alice","scope":"mcp:access","exp":2000000000,"aud":["a","b"]})";
  mag::http::HeaderMap headers;
  mag::proxy::add_identity_headers(route, token_with(payload), headers);
  CHECK(*headers.get("x-auth-subject") == "alice");
  CHECK(*headers.get("x-auth-scope") == "mcp:access");
  CHECK(*headers.get("x-exp") == "2000000000");
  CHECK(*headers.get("x-aud") == mag::auth::base64url_encode(R"(["a","b"])"));
  CHECK_FALSE(headers.has("x-email"));
  CHECK(*headers.get("x-jwt-payload") == mag::auth::base64url_encode(payload));
  for (const auto& field : headers) CHECK(field.value.find("c2ln") == std::string::npos);

  mag::http::HeaderMap hostile;
  mag::proxy::add_identity_headers(route, token_with(R"({"sub":"eve\r\nX-Admin: yes"})"), hostile);
  CHECK_FALSE(hostile.has("x-auth-subject"));
  CHECK_FALSE(hostile.has("x-admin"));
  CHECK(mag::metrics::global().value("mag_claim_headers_omitted_total", labels) == before + 1);
}

TEST_CASE("claim_to_headers: client copies are stripped on every route, in any case") {
  auto result =
      mag::config::load_string(config_text("    claim_to_headers: {sub: X-Auth-Subject}\n"
                                           "    forward_payload_header: X-JWT-Payload"));
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  mag::http::HeaderMap headers;
  headers.add("x-auth-subject", "root");
  headers.add("X-AUTH-SUBJECT", "admin");
  headers.add("X-Jwt-Payload", "forged");
  headers.add("X-Other", "kept");
  // The public /open route maps nothing, and still strips /mcp's names.
  mag::proxy::strip_identity_headers(*result.config, headers);
  CHECK_FALSE(headers.has("x-auth-subject"));
  CHECK_FALSE(headers.has("x-jwt-payload"));
  CHECK(*headers.get("x-other") == "kept");
}
