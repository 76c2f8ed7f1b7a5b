#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/mcp/mcp_authz.h"

using mag::config::RouteAuth;
using mag::mcp::AuthzDecision;
using mag::mcp::JsonRpcMessage;
using Verdict = AuthzDecision::Verdict;

namespace {

JsonRpcMessage call(const std::string& tool) {
  JsonRpcMessage m;
  m.method = "tools/call";
  m.tool_name = tool;
  m.id = "1";
  return m;
}

JsonRpcMessage request(const std::string& method) {
  JsonRpcMessage m;
  m.method = method;
  m.id = "1";
  return m;
}

RouteAuth sample_rules() {
  RouteAuth auth;
  auth.providers = {"idp"};
  auth.scopes = {"mcp:access"};
  auth.tools = {{"add", {"math:add"}}, {"sub", {"math:sub"}}};
  auth.methods = {{"resources/read", {"files:read"}}};
  auth.denied_tools = {"rm"};
  return auth;
}

}  // namespace

TEST_CASE("mcp_authz: route scopes are all required") {
  RouteAuth auth = sample_rules();
  CHECK(mag::mcp::authorize_route(auth, {"mcp:access"}).verdict == Verdict::kAllow);
  auto d = mag::mcp::authorize_route(auth, {"other"});
  CHECK(d.verdict == Verdict::kInsufficientScope);
  CHECK(d.missing == std::vector<std::string>{"mcp:access"});
  CHECK(d.challenge_scopes == std::vector<std::string>{"mcp:access"});
}

TEST_CASE(
    "mcp_authz: per-tool scope; challenge = needed scopes the token has, the new ones, then its "
    "other route scopes") {
  RouteAuth auth = sample_rules();
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "math:add"}, {call("add")}).verdict ==
        Verdict::kAllow);
  auto d =
      mag::mcp::authorize_messages(auth, {"mcp:access", "math:sub", "unrelated"}, {call("add")});
  CHECK(d.verdict == Verdict::kInsufficientScope);
  CHECK(d.missing == std::vector<std::string>{"math:add"});
  // math:sub is kept (a replace-semantics client must not lose it); unrelated is not ours.
  CHECK(d.challenge_scopes == std::vector<std::string>{"mcp:access", "math:add", "math:sub"});
  CHECK(d.description.find("add") != std::string::npos);
}

TEST_CASE(
    "mcp_authz: the default rule '*' covers unlisted tools; without it they need only the route "
    "scopes") {
  RouteAuth auth = sample_rules();
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access"}, {call("echo")}).verdict ==
        Verdict::kAllow);
  auth.tools["*"] = {"tools:other"};
  auto d = mag::mcp::authorize_messages(auth, {"mcp:access"}, {call("echo")});
  CHECK(d.verdict == Verdict::kInsufficientScope);
  CHECK(d.missing == std::vector<std::string>{"tools:other"});
  // A listed tool does not also need the default.
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "math:add"}, {call("add")}).verdict ==
        Verdict::kAllow);
}

TEST_CASE("mcp_authz: per-method scopes and the method default") {
  RouteAuth auth = sample_rules();
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access"}, {request("resources/read")}).verdict ==
        Verdict::kInsufficientScope);
  CHECK(
      mag::mcp::authorize_messages(auth, {"mcp:access", "files:read"}, {request("resources/read")})
          .verdict == Verdict::kAllow);
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access"}, {request("ping")}).verdict ==
        Verdict::kAllow);
  auth.methods["*"] = {"mcp:other"};
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access"}, {request("ping")}).verdict ==
        Verdict::kInsufficientScope);
}

TEST_CASE("mcp_authz: deny rules give a plain 403 that no scope fixes") {
  RouteAuth auth = sample_rules();
  auto d = mag::mcp::authorize_messages(auth, {"mcp:access", "math:add", "rm"}, {call("rm")});
  CHECK(d.verdict == Verdict::kForbidden);
  CHECK(d.challenge_scopes.empty());
  auth.denied_methods = {"sampling/createMessage"};
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access"}, {request("sampling/createMessage")})
            .verdict == Verdict::kForbidden);
}

TEST_CASE("mcp_authz: a batch needs the union; one denied element denies the batch") {
  RouteAuth auth = sample_rules();
  auto d = mag::mcp::authorize_messages(auth, {"mcp:access", "math:add"},
                                        {call("add"), call("sub"), request("tools/list")});
  CHECK(d.verdict == Verdict::kInsufficientScope);
  CHECK(d.missing == std::vector<std::string>{"math:sub"});
  CHECK(d.challenge_scopes == std::vector<std::string>{"mcp:access", "math:add", "math:sub"});
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "math:add", "math:sub"},
                                     {call("add"), call("sub")})
            .verdict == Verdict::kAllow);
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "math:add"}, {call("add"), call("rm")})
            .verdict == Verdict::kForbidden);
}

TEST_CASE("mcp_authz: notifications and responses need only the route scopes") {
  RouteAuth auth = sample_rules();
  JsonRpcMessage note;
  note.kind = JsonRpcMessage::Kind::kNotification;
  note.method = "notifications/initialized";
  JsonRpcMessage response;
  response.kind = JsonRpcMessage::Kind::kResponse;
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access"}, {note, response}).verdict ==
        Verdict::kAllow);
  CHECK(mag::mcp::authorize_messages(auth, {}, {note}).verdict == Verdict::kInsufficientScope);
}

TEST_CASE("mcp_authz: tool visibility for tools/list filtering") {
  RouteAuth auth = sample_rules();
  CHECK(mag::mcp::tool_allowed(auth, {"mcp:access", "math:add"}, "add"));
  CHECK_FALSE(mag::mcp::tool_allowed(auth, {"mcp:access"}, "add"));
  CHECK_FALSE(mag::mcp::tool_allowed(auth, {"mcp:access", "math:add"}, "rm"));
  CHECK(mag::mcp::tool_allowed(auth, {"mcp:access"}, "echo"));
  CHECK(mag::mcp::may_filter_tools(auth));
  CHECK(mag::mcp::needs_body(auth));
  RouteAuth plain;
  plain.scopes = {"a"};
  CHECK_FALSE(mag::mcp::may_filter_tools(plain));
  CHECK_FALSE(mag::mcp::needs_body(plain));
}
