#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "proxy/auth/jwt_compact.h"
#include "proxy/config/config.h"
#include "proxy/mcp/request_authz.h"

using mag::proxy::RequestAuthz;
using mag::proxy::SessionBindings;

namespace {

const std::string kRules = R"(listeners:
  - address: 127.0.0.1:8000
    allowed_origins: [http://localhost:6274, https://claude.ai]
    allowed_hosts: [localhost, gw.example.com:443]
providers:
  idp:
    issuer: https://idp.example.com
    jwks_uri: https://idp.example.com/jwks
upstreams:
  backend:
    url: http://127.0.0.1:9000
routes:
  - path_prefix: /mcp
    upstream: backend
    resource: http://localhost:8000/mcp
    claim_to_headers: {sub: X-MCP-Subject, scope: X-MCP-Scopes}
    forward_payload_header: X-JWT-Payload
    auth:
      scopes: [mcp:access]
      tools:
        add: [math:add]
        rm: deny
        "*": [tools:other]
      methods:
        resources/read: [files:read]
  - path_prefix: /open
    upstream: backend
    resource: http://localhost:8000/open
    auth:
      allow_missing: true
      tools: {add: [math:add]}
authz:
  session_idle_timeout: 600
  max_sessions: 50
  stream_expiry_grace: 5
  max_inspected_body: 2048
)";

std::shared_ptr<const mag::config::Config> load() {
  auto result = mag::config::load_string(kRules);
  if (result.error) FAIL(result.error->message);
  return result.config;
}

mag::auth::Claims claims(std::vector<std::string> scopes, std::string sub = "alice") {
  mag::auth::Claims c;
  c.issuer = "https://idp.example.com";
  c.subject = std::move(sub);
  c.client_id = "client-1";
  c.scopes = std::move(scopes);
  c.expires_at = 2000000000;
  return c;
}

mag::http::RequestHead post(std::string session = "") {
  mag::http::RequestHead head;
  head.method = "POST";
  head.path = head.target = "/mcp";
  head.headers.add("Content-Type", "application/json");
  if (!session.empty()) head.headers.add("Mcp-Session-Id", session);
  return head;
}

const std::string kCallAdd =
    R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}})";

}  // namespace

TEST_CASE("request_authz: config loads the issue-4 fields") {
  auto config = load();
  const auto& route = config->routes[0];
  CHECK(config->listeners[0].allowed_origins.size() == 2);
  CHECK(config->listeners[0].allowed_hosts.size() == 2);
  CHECK(route.auth.tools.at("add") == std::vector<std::string>{"math:add"});
  CHECK(route.auth.tools.at("*") == std::vector<std::string>{"tools:other"});
  CHECK(route.auth.denied_tools == std::vector<std::string>{"rm"});
  CHECK(route.auth.methods.at("resources/read") == std::vector<std::string>{"files:read"});
  CHECK_FALSE(route.auth.allow_missing);
  CHECK(config->routes[1].auth.allow_missing);
  REQUIRE(route.claim_to_headers.size() == 2);
  CHECK(route.forward_payload_header == "X-JWT-Payload");
  CHECK(config->authz.max_sessions == 50);
  CHECK(config->authz.stream_expiry_grace.count() == 5);
  CHECK(config->authz.max_inspected_body == 2048);
}

TEST_CASE("request_authz: config errors name the key") {
  auto error_for = [](const std::string& from, const std::string& to) {
    std::string yaml = kRules;
    const size_t at = yaml.find(from);
    REQUIRE(at != std::string::npos);
    yaml.replace(at, from.size(), to);
    auto result = mag::config::load_string(yaml);
    REQUIRE(result.error);
    return result.error->message;
  };
  CHECK(error_for("rm: deny", "rm: maybe")
            .find("routes[0].auth.tools.rm: expected a list of scopes or 'deny'") !=
        std::string::npos);
  CHECK(error_for("allow_missing: true", "allow_missing: perhaps")
            .find("allow_missing: expected true or false") != std::string::npos);
  CHECK(error_for("sub: X-MCP-Subject", "sub: Authorization").find("must not overwrite") !=
        std::string::npos);
  // Any claim may be mapped (JWT-CLM-16), but one header only once per route.
  CHECK(error_for("sub: X-MCP-Subject", "email: X-MCP-Scopes").find("is already used") !=
        std::string::npos);
  CHECK(error_for("max_sessions: 50", "max_sessions: 0")
            .find("authz.max_sessions: must be between") != std::string::npos);
  CHECK(error_for("https://claude.ai]", "https://claude.ai/path]").find("allowed_origins[1]") !=
        std::string::npos);
  CHECK(error_for("gw.example.com:443]", "gw.example.com/x]").find("allowed_hosts[1]") !=
        std::string::npos);
  CHECK(
      error_for("  max_inspected_body: 2048", "  max_body: 2048").find("unknown key 'max_body'") !=
      std::string::npos);
}

TEST_CASE("request_authz: a token without the tool's scope gets the exact step-up 403") {
  auto config = load();
  const auto token = claims({"mcp:access"});
  RequestAuthz authz(config->routes[0], *config, nullptr, &token);
  auto head = post();
  CHECK_FALSE(authz.check_head(head));
  REQUIRE(authz.wants_body());
  auto reply = authz.check_body(kCallAdd);
  REQUIRE(reply);
  CHECK(reply->head.status == 403);
  const std::string_view* challenge = reply->head.headers.get("www-authenticate");
  REQUIRE(challenge);
  CHECK(*challenge ==
        "Bearer error=\"insufficient_scope\", scope=\"mcp:access math:add\", "
        "resource_metadata=\"http://localhost:8000/.well-known/oauth-protected-resource/mcp\", "
        "error_description=\"tool 'add' requires scope math:add\"");
  CHECK(reply->body.find("\"error\":\"insufficient_scope\"") != std::string::npos);
  CHECK(*reply->head.headers.get("content-type") == "application/json");
}

TEST_CASE("request_authz: the same request with the scope passes; deny is a plain 403") {
  auto config = load();
  const auto good = claims({"mcp:access", "math:add"});
  RequestAuthz ok(config->routes[0], *config, nullptr, &good);
  auto head = post();
  CHECK_FALSE(ok.check_head(head));
  CHECK_FALSE(ok.check_body(kCallAdd));

  RequestAuthz denied(config->routes[0], *config, nullptr, &good);
  CHECK_FALSE(denied.check_head(head));
  auto reply =
      denied.check_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm"}})");
  REQUIRE(reply);
  CHECK(reply->head.status == 403);
  CHECK_FALSE(reply->head.headers.has("www-authenticate"));
  CHECK(reply->body.find("insufficient_scope") == std::string::npos);
}

TEST_CASE("request_authz: malformed and oversized bodies never reach the upstream") {
  auto config = load();
  const auto token = claims({"mcp:access", "math:add"});
  RequestAuthz authz(config->routes[0], *config, nullptr, &token);
  auto head = post();
  CHECK_FALSE(authz.check_head(head));
  auto bad = authz.check_body("{\"method\":");
  REQUIRE(bad);
  CHECK(bad->head.status == 400);
  CHECK(bad->body.find("-32700") != std::string::npos);
  auto big = authz.check_body(std::string(4096, ' ') + kCallAdd);
  REQUIRE(big);
  CHECK(big->head.status == 413);
  head.headers.add("Content-Length", "999999");
  RequestAuthz early(config->routes[0], *config, nullptr, &token);
  auto refused = early.check_head(head);
  REQUIRE(refused);
  CHECK(refused->head.status == 413);
}

TEST_CASE("request_authz: GET needs only the route scopes; anonymous on allow_missing gets 401") {
  auto config = load();
  const auto none = claims({});
  mag::http::RequestHead get;
  get.method = "GET";
  get.path = get.target = "/mcp";
  RequestAuthz authz(config->routes[0], *config, nullptr, &none);
  auto reply = authz.check_head(get);
  REQUIRE(reply);
  CHECK(reply->head.status == 403);
  CHECK(reply->head.headers.get("www-authenticate")->find("scope=\"mcp:access\"") !=
        std::string::npos);

  RequestAuthz anonymous(config->routes[1], *config, nullptr, nullptr);
  auto head = post();
  CHECK_FALSE(anonymous.check_head(head));
  CHECK_FALSE(anonymous.check_body(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})"));
  RequestAuthz anonymous_call(config->routes[1], *config, nullptr, nullptr);
  CHECK_FALSE(anonymous_call.check_head(head));
  auto challenge = anonymous_call.check_body(kCallAdd);
  REQUIRE(challenge);
  CHECK(challenge->head.status == 401);
  CHECK(challenge->head.headers.get("www-authenticate")->find("insufficient_scope") ==
        std::string::npos);
  CHECK(challenge->head.headers.get("www-authenticate")->find("scope=\"math:add\"") !=
        std::string::npos);
}

TEST_CASE("request_authz: a session answers 404 to another principal, and ends on DELETE") {
  auto config = load();
  auto sessions = std::make_shared<SessionBindings>(10, std::chrono::seconds(600));
  const auto alice = claims({"mcp:access"}, "alice");
  const auto bob = claims({"mcp:access"}, "bob");
  // initialize: the response carries the new session id.
  RequestAuthz init(config->routes[0], *config, sessions, &alice);
  auto head = post();
  mag::http::ResponseHead response;
  response.headers.add("Mcp-Session-Id", "sess-1");
  response.headers.add("Content-Type", "application/json");
  init.on_response_head(head, response, true);
  CHECK(sessions->size() == 1);

  RequestAuthz hijack(config->routes[0], *config, sessions, &bob);
  auto reply = hijack.check_head(post("sess-1"));
  REQUIRE(reply);
  CHECK(reply->head.status == 404);
  CHECK(reply->body.find("Session not found") != std::string::npos);
  RequestAuthz owner(config->routes[0], *config, sessions, &alice);
  CHECK_FALSE(owner.check_head(post("sess-1")));

  auto del = post("sess-1");
  del.method = "DELETE";
  mag::http::ResponseHead deleted;
  deleted.status = 200;
  owner.on_response_head(del, deleted, true);
  CHECK(sessions->size() == 0);
}

TEST_CASE(
    "request_authz: identity headers replace client copies; Origin and the signature never go "
    "upstream") {
  auto config = load();
  const auto token = claims({"mcp:access", "math:add"});
  RequestAuthz authz(config->routes[0], *config, nullptr, &token);
  mag::http::RequestHead downstream = post();
  // The headers come from the verified token's payload, not from `claims`.
  const std::string payload =
      mag::auth::base64url_encode(R"({"sub":"alice","scope":"mcp:access math:add"})");
  downstream.headers.add("Authorization", "Bearer aGVhZGVy." + payload + ".c2lnbmF0dXJl");
  mag::http::RequestHead upstream = downstream;
  upstream.headers.add("X-MCP-Subject", "root");
  upstream.headers.add("x-jwt-payload", "forged");
  upstream.headers.add("Origin", "http://localhost:6274");
  authz.prepare_upstream(downstream, upstream);
  CHECK(upstream.headers.count("x-mcp-subject") == 1);
  CHECK(*upstream.headers.get("x-mcp-subject") == "alice");
  CHECK(*upstream.headers.get("x-mcp-scopes") == "mcp:access math:add");
  CHECK(*upstream.headers.get("x-jwt-payload") == payload);
  CHECK_FALSE(upstream.headers.has("origin"));

  RequestAuthz anonymous(config->routes[0], *config, nullptr, nullptr);
  mag::http::RequestHead anon_up = post();
  anon_up.headers.add("X-MCP-Subject", "root");
  anonymous.prepare_upstream(post(), anon_up);
  CHECK_FALSE(anon_up.headers.has("x-mcp-subject"));
}

TEST_CASE("request_authz: stream deadline is exp + grace") {
  auto config = load();
  const auto token = claims({"mcp:access"});
  RequestAuthz authz(config->routes[0], *config, nullptr, &token);
  CHECK(authz.stream_deadline() == 2000000005);
  RequestAuthz anonymous(config->routes[1], *config, nullptr, nullptr);
  CHECK(anonymous.stream_deadline() == 0);
}
