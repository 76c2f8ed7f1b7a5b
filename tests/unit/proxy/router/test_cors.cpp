#include <doctest/doctest.h>

#include "proxy/router/cors.h"

using namespace mag::proxy;
using mag::http::RequestHead;
using mag::http::ResponseHead;

namespace {
RequestHead preflight(const char* origin) {
  RequestHead r;
  r.method = "OPTIONS";
  r.target = r.path = "/mcp";
  r.headers.add("Origin", origin);
  r.headers.add("Access-Control-Request-Method", "POST");
  r.headers.add("Access-Control-Request-Headers",
                "authorization, content-type, mcp-protocol-version");
  return r;
}
}  // namespace

TEST_CASE("cors: preflight answered without a token") {
  CorsPolicy any;
  RequestHead r = preflight("http://localhost:6274");
  REQUIRE(is_preflight(r));
  ResponseHead h = preflight_response(any, r);
  CHECK(h.status == 204);
  CHECK(*h.headers.get("access-control-allow-origin") == "*");
  CHECK(h.headers.get("access-control-allow-methods")->find("POST") != std::string::npos);
  CHECK(h.headers.get("access-control-allow-headers")->find("authorization") != std::string::npos);
}

TEST_CASE("cors: a plain OPTIONS is not a preflight") {
  RequestHead r;
  r.method = "OPTIONS";
  CHECK_FALSE(is_preflight(r));
}

TEST_CASE("cors: allow-list echoes the allowed origin only") {
  CorsPolicy list;
  list.allowed_origins = {"http://localhost:6274"};
  ResponseHead ok = preflight_response(list, preflight("http://localhost:6274"));
  CHECK(*ok.headers.get("access-control-allow-origin") == "http://localhost:6274");
  CHECK(*ok.headers.get("vary") == "Origin");
  ResponseHead evil = preflight_response(list, preflight("https://evil.example"));
  CHECK_FALSE(evil.headers.has("access-control-allow-origin"));
}

TEST_CASE("cors: responses expose the MCP headers, 401s included") {
  CorsPolicy any;
  RequestHead r;
  r.method = "POST";
  r.headers.add("Origin", "http://localhost:6274");
  ResponseHead unauthorized;
  unauthorized.status = 401;
  add_cors_headers(any, r, unauthorized);
  const std::string_view* exposed = unauthorized.headers.get("access-control-expose-headers");
  REQUIRE(exposed);
  CHECK(exposed->find("WWW-Authenticate") != std::string::npos);
  CHECK(exposed->find("Mcp-Session-Id") != std::string::npos);
  CHECK(exposed->find("MCP-Protocol-Version") != std::string::npos);

  RequestHead no_origin;
  ResponseHead plain;
  add_cors_headers(any, no_origin, plain);
  CHECK(plain.headers.empty());
}

TEST_CASE("cors: odd requested headers are not reflected") {
  CorsPolicy any;
  RequestHead r = preflight("http://localhost:6274");
  r.headers.set("Access-Control-Request-Headers", "x\r\nInjected: 1");
  ResponseHead h = preflight_response(any, r);
  CHECK(h.headers.get("access-control-allow-headers")->find("Injected") == std::string::npos);
}
