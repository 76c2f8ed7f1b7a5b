#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "proxy/auth/jwt_compact.h"
#include "proxy/config/config.h"
#include "proxy/mcp/request_authz.h"
#include "tests/unit/config_test_util.h"

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
  - path_prefix: /lists
    upstream: backend
    resource: http://localhost:8000/lists
    auth:
      allow_missing: true
      prompts: {secret: deny}
      methods: {resources/read: [files:read]}
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

std::shared_ptr<SessionBindings> session_table() {
  return std::make_shared<SessionBindings>(
      SessionBindings::Limits{10, 10, std::chrono::seconds(600)});
}

// An initialize through `route`, answered by the upstream's first endpoint
// with a new session id.
void initialize(const mag::config::Config& config, const mag::config::Route& route,
                const std::shared_ptr<SessionBindings>& sessions, const mag::auth::Claims* who,
                const std::string& session) {
  RequestAuthz init(route, config, sessions, who);
  auto head = post();
  CHECK_FALSE(init.check_head(head));
  mag::http::ResponseHead response;
  response.headers.add("Mcp-Session-Id", session);
  response.headers.add("Content-Type", "application/json");
  init.set_endpoint(0);
  init.on_response_head(head, response, true);
}

const std::string kCallAdd =
    R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}})";

}  // namespace

TEST_CASE("request_authz: config loads the route authorization fields") {
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
  CHECK(reply->head.headers.count("cache-control") == 1);
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
  CHECK(reply->head.headers.count("cache-control") == 1);
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

TEST_CASE("request_authz: a body read otherwise than as UTF-8 JSON is refused before forwarding") {
  auto config = load();
  const auto token = claims({"mcp:access", "math:add"});
  auto utf7 = post();
  utf7.headers.set("Content-Type", "application/json; charset=utf-7");
  // Scoped route, allow_missing route without a token: the same 415.
  RequestAuthz scoped(config->routes[0], *config, nullptr, &token);
  auto refused = scoped.check_head(utf7);
  REQUIRE(refused);
  CHECK(refused->head.status == 415);
  CHECK_FALSE(scoped.wants_body());
  RequestAuthz anonymous(config->routes[1], *config, nullptr, nullptr);
  auto anon_refused = anonymous.check_head(utf7);
  REQUIRE(anon_refused);
  CHECK(anon_refused->head.status == 415);

  auto gzip = post();
  gzip.headers.add("Content-Encoding", "gzip");
  RequestAuthz encoded(config->routes[0], *config, nullptr, &token);
  REQUIRE(encoded.check_head(gzip));
  CHECK(encoded.check_head(gzip)->head.status == 415);

  // A route whose rules do not read the body does not look at it.
  auto route_scopes_only = config->routes[0];
  route_scopes_only.auth.tools.clear();
  route_scopes_only.auth.denied_tools.clear();
  route_scopes_only.auth.methods.clear();
  RequestAuthz unread(route_scopes_only, *config, nullptr, &token);
  CHECK_FALSE(unread.check_head(utf7));
  CHECK_FALSE(unread.wants_body());
}

TEST_CASE("request_authz: another method than POST must bring no body where rules read bodies") {
  auto config = load();
  const auto token = claims({"mcp:access"});
  mag::http::RequestHead get;
  get.method = "GET";
  get.path = get.target = "/mcp";
  RequestAuthz authz(config->routes[0], *config, nullptr, &token);
  CHECK_FALSE(authz.check_head(get));
  // Held to see that nothing comes: an HTTP/2 DATA frame has no field to
  // announce it.
  REQUIRE(authz.wants_body());
  CHECK(authz.body_cap() == 0);
  CHECK_FALSE(authz.check_body(""));
  auto data = authz.check_body(kCallAdd);
  REQUIRE(data);
  CHECK(data->head.status == 400);
  CHECK(authz.body_over_cap().head.status == 400);
  CHECK(authz.body_over_cap().body.find("-32600") != std::string::npos);

  auto del = get;
  del.method = "DELETE";
  del.headers.add("Content-Length", "5");
  RequestAuthz with_length(config->routes[1], *config, nullptr, nullptr);
  REQUIRE(with_length.check_head(del));
  CHECK(with_length.check_head(del)->head.status == 400);
  auto chunked = get;
  chunked.headers.add("Transfer-Encoding", "chunked");
  RequestAuthz with_chunks(config->routes[0], *config, nullptr, &token);
  REQUIRE(with_chunks.check_head(chunked));
  CHECK(with_chunks.check_head(chunked)->head.status == 400);

  // A POST keeps the configured cap and its 413.
  RequestAuthz posted(config->routes[0], *config, nullptr, &token);
  CHECK_FALSE(posted.check_head(post()));
  CHECK(posted.body_cap() == 2048);
  CHECK(posted.body_over_cap().head.status == 413);
}

TEST_CASE("request_authz: two values of an MCP header are refused on every route") {
  auto config = load();
  auto sessions = session_table();
  const auto alice = claims({"mcp:access"}, "alice");
  auto twice = post("sess-a");
  twice.headers.add("Mcp-Session-Id", "sess-b");
  RequestAuthz scoped(config->routes[0], *config, sessions, &alice);
  REQUIRE(scoped.check_head(twice));
  CHECK(scoped.check_head(twice)->head.status == 400);
  auto joined = post("sess-a, sess-b");
  RequestAuthz anonymous(config->routes[1], *config, sessions, nullptr);
  REQUIRE(anonymous.check_head(joined));
  CHECK(anonymous.check_head(joined)->head.status == 400);

  // auth: none reads no body and checks no token, but still one value.
  auto open = config->routes[1];
  open.auth = mag::config::RouteAuth{};
  open.auth.enabled = false;
  auto version = post();
  version.headers.add("MCP-Protocol-Version", "2025-06-18");
  version.headers.add("MCP-Protocol-Version", "2025-11-25");
  RequestAuthz none(open, *config, nullptr, nullptr);
  REQUIRE(none.check_head(version));
  CHECK(none.check_head(version)->head.status == 400);
  RequestAuthz none_ok(open, *config, nullptr, nullptr);
  CHECK_FALSE(none_ok.check_head(post("sess-a")));
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
  auto sessions = session_table();
  const auto alice = claims({"mcp:access"}, "alice");
  const auto bob = claims({"mcp:access"}, "bob");
  // initialize: the response carries the new session id.
  initialize(*config, config->routes[0], sessions, &alice, "sess-1");
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
  owner.set_endpoint(0);
  owner.on_response_head(del, deleted, true);
  CHECK(sessions->size() == 0);
  // Ended: the id is now unknown, refused to its former owner too.
  RequestAuthz after(config->routes[0], *config, sessions, &alice);
  auto gone = after.check_head(post("sess-1"));
  REQUIRE(gone);
  CHECK(gone->head.status == 404);
}

namespace {

// Another upstream name for 127.0.0.1:9000 (other base path) behind an
// `auth: none` route, and a second server.
std::shared_ptr<const mag::config::Config> load_routes(const std::string& unknown_sessions) {
  std::string yaml = kRules;
  const std::string upstreams = "    url: http://127.0.0.1:9000\n";
  yaml.insert(yaml.find(upstreams) + upstreams.size(),
              "  same:\n    url: http://127.0.0.1:9000/same\n"
              "  other:\n    url: http://127.0.0.1:9001\n");
  yaml.insert(
      yaml.find("authz:\n"),
      "  - path_prefix: /none\n    upstream: same\n    resource: http://localhost:8000/none\n"
      "    auth: none\n"
      "  - path_prefix: /other\n    upstream: other\n"
      "    resource: http://localhost:8000/other\n    auth: none\n");
  yaml += "  unknown_sessions: " + unknown_sessions + "\n";
  auto result = mag::config::load_string(yaml);
  if (result.error) FAIL(result.error->message);
  return result.config;
}

const mag::config::Route& route(const mag::config::Config& config, const std::string& prefix) {
  for (const auto& r : config.routes) {
    if (r.path_prefix == prefix) return r;
  }
  FAIL("no route " << prefix);
  return config.routes.front();
}

int status_of(const mag::config::Config& config, const std::string& prefix,
              const std::shared_ptr<SessionBindings>& sessions, const mag::auth::Claims* who,
              const std::string& session) {
  RequestAuthz authz(route(config, prefix), config, sessions, who);
  auto refusal = authz.check_head(post(session));
  return refusal ? refusal->head.status : 0;
}

}  // namespace

TEST_CASE("request_authz: a session is bound under its server, whatever route reaches it") {
  auto config = load_routes("refuse");
  auto sessions = session_table();
  const auto alice = claims({"mcp:access"}, "alice");
  const auto bob = claims({"mcp:access"}, "bob");
  initialize(*config, config->routes[0], sessions, &alice, "sess-a");
  // Its owner, on any route to 127.0.0.1:9000 that she can use.
  CHECK(status_of(*config, "/mcp", sessions, &alice, "sess-a") == 0);
  CHECK(status_of(*config, "/open", sessions, &alice, "sess-a") == 0);
  // Another user, or nobody, through any route to that server: 404.
  CHECK(status_of(*config, "/mcp", sessions, &bob, "sess-a") == 404);
  CHECK(status_of(*config, "/open", sessions, &bob, "sess-a") == 404);
  CHECK(status_of(*config, "/open", sessions, nullptr, "sess-a") == 404);
  CHECK(status_of(*config, "/none", sessions, nullptr, "sess-a") == 404);
  // Another server never minted it: unknown there.
  CHECK(status_of(*config, "/other", sessions, nullptr, "sess-a") == 404);
  CHECK(sessions->size() == 1);
}

TEST_CASE("request_authz: anonymous sessions are bound too; unknown ones are refused") {
  auto config = load_routes("refuse");
  auto sessions = session_table();
  const auto alice = claims({"mcp:access"}, "alice");
  initialize(*config, route(*config, "/none"), sessions, nullptr, "sess-anon");
  CHECK(sessions->size() == 1);
  CHECK(status_of(*config, "/none", sessions, nullptr, "sess-anon") == 0);
  CHECK(status_of(*config, "/open", sessions, nullptr, "sess-anon") == 0);
  CHECK(status_of(*config, "/mcp", sessions, &alice, "sess-anon") == 404);
  // Never seen: refused, with the JSON-RPC error the SDK clients know.
  RequestAuthz unknown(config->routes[0], *config, sessions, &alice);
  auto reply = unknown.check_head(post("never-issued"));
  REQUIRE(reply);
  CHECK(reply->head.status == 404);
  CHECK(reply->body.find("-32001") != std::string::npos);
  CHECK(reply->body.find("Session not found") != std::string::npos);
  CHECK(status_of(*config, "/none", sessions, nullptr, "never-issued") == 404);
  CHECK(sessions->size() == 1);
}

TEST_CASE("request_authz: unknown_sessions: adopt binds an unknown session to its first user") {
  auto config = load_routes("adopt");
  auto sessions = session_table();
  const auto alice = claims({"mcp:access"}, "alice");
  const auto bob = claims({"mcp:access"}, "bob");
  RequestAuthz first(config->routes[0], *config, sessions, &alice);
  auto request = post("from-before-restart");
  CHECK_FALSE(first.check_head(request));
  mag::http::ResponseHead ok;
  ok.status = 200;
  first.set_endpoint(0);
  first.on_response_head(request, ok, true);
  CHECK(status_of(*config, "/mcp", sessions, &alice, "from-before-restart") == 0);
  CHECK(status_of(*config, "/mcp", sessions, &bob, "from-before-restart") == 404);
  CHECK(status_of(*config, "/none", sessions, nullptr, "from-before-restart") == 404);
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

TEST_CASE(
    "request_authz: list answers are filtered (identity asked of the upstream) only where a rule "
    "could hide an entry") {
  auto config = load();
  const auto& lists_route = config->routes[2];
  auto filtered = [&](const std::string& body) {
    RequestAuthz authz(lists_route, *config, nullptr, nullptr);
    auto head = post();
    REQUIRE_FALSE(authz.check_head(head));
    REQUIRE_FALSE(authz.check_body(body));
    auto upstream = post();
    authz.prepare_upstream(head, upstream);
    const std::string_view* encoding = upstream.headers.get("accept-encoding");
    return encoding && *encoding == "identity";
  };
  auto list = [](int id, const std::string& method) {
    return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method + R"("})";
  };
  CHECK(filtered(list(1, "prompts/list")));              // prompts rules
  CHECK(filtered(list(1, "resources/list")));            // a resources/read method rule
  CHECK(filtered(list(1, "resources/templates/list")));  // the same
  CHECK_FALSE(filtered(list(1, "tools/list")));          // no tool rule on this route
  CHECK_FALSE(filtered(R"({"jsonrpc":"2.0","method":"prompts/list"})"));  // no id: no answer
  CHECK(filtered("[" + list(1, "tools/list") + "," + list(2, "prompts/list") + "]"));
}

TEST_CASE("RequestAuthz::read_names: a complete body on a route without rules, for the log") {
  auto result =
      mag::config::load_string(mag::test::kMinimalConfig + "authz:\n  max_inspected_body: 1024\n");
  REQUIRE_MESSAGE(!result.error, result.error->message);
  const auto& config = *result.config;
  auto names = [&](std::string_view body) {
    RequestAuthz authz(config.routes.front(), config, nullptr, std::optional(claims({})));
    REQUIRE_FALSE(authz.check_head(post()));
    CHECK_FALSE(authz.wants_body());  // no rule reads it: it is streamed
    authz.read_names(body);
    return authz.mcp_method() + "|" + authz.mcp_tool();
  };
  CHECK(names(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add"}})") ==
        "tools/call|add");
  CHECK(names(R"([{"jsonrpc":"2.0","id":1,"method":"ping"},)"
              R"({"jsonrpc":"2.0","method":"notifications/initialized"}])") == "ping +1|");
  CHECK(names("not json") == "|");
  CHECK(names(R"({"jsonrpc":"2.0","id":1,"method":"a","method":"b"})") == "|");  // duplicate
  CHECK(names(R"({"jsonrpc":"2.0","id":1,"method":")" + std::string(2000, 'm') + "\"}") ==
        "|");  // over max_inspected_body: not read
  CHECK(names("") == "|");

  // Where a rule reads the body, only check_body() names it.
  const auto rules = load();
  RequestAuthz authz(rules->routes[0], *rules, nullptr, std::optional(claims({"mcp:access"})));
  REQUIRE_FALSE(authz.check_head(post()));
  REQUIRE(authz.wants_body());
  authz.read_names(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  CHECK(authz.mcp_method().empty());
}
