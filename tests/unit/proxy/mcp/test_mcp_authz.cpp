#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/mcp/mcp_authz.h"

using mag::config::RouteAuth;
using mag::mcp::AuthzDecision;
using mag::mcp::JsonRpcMessage;
using Verdict = AuthzDecision::Verdict;

namespace {

// A request of `method`; `field` (the name or URI a per-name rule reads)
// set to `target`.
JsonRpcMessage request(const std::string& method, std::string JsonRpcMessage::*field = nullptr,
                       const std::string& target = "") {
  JsonRpcMessage m;
  m.method = method;
  if (field) m.*field = target;
  m.id = "1";
  return m;
}

JsonRpcMessage call(const std::string& tool) {
  return request("tools/call", &JsonRpcMessage::tool_name, tool);
}

JsonRpcMessage get_prompt(const std::string& name) {
  return request("prompts/get", &JsonRpcMessage::prompt_name, name);
}

JsonRpcMessage read_resource(const std::string& uri, const std::string& method = "resources/read") {
  return request(method, &JsonRpcMessage::resource_uri, uri);
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

TEST_CASE("mcp_authz: body rules are read only where some rule needs the body") {
  RouteAuth plain;
  plain.scopes = {"a"};
  CHECK_FALSE(mag::mcp::needs_body(plain));
  CHECK(mag::mcp::needs_body(sample_rules()));
  RouteAuth prompts = plain;
  prompts.denied_prompts = {"p"};
  CHECK(mag::mcp::needs_body(prompts));
  RouteAuth resources = plain;
  resources.resources = {{"file:///*", {"files"}}};
  CHECK(mag::mcp::needs_body(resources));
}

TEST_CASE("mcp_authz: prompts/get by prompt name, with the '*' default and deny") {
  RouteAuth auth = sample_rules();
  auth.prompts = {{"simple", {"prompts:simple"}}, {"*", {"prompts:other"}}};
  auth.denied_prompts = {"secret"};
  auto d = mag::mcp::authorize_messages(auth, {"mcp:access"}, {get_prompt("simple")});
  CHECK(d.verdict == Verdict::kInsufficientScope);
  CHECK(d.missing == std::vector<std::string>{"prompts:simple"});
  CHECK(d.description == "prompt 'simple' requires scope prompts:simple");
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "prompts:simple"}, {get_prompt("simple")})
            .verdict == Verdict::kAllow);
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "prompts:simple"}, {get_prompt("other")})
            .missing == std::vector<std::string>{"prompts:other"});
  auto denied = mag::mcp::authorize_messages(
      auth, {"mcp:access", "prompts:simple", "prompts:other"}, {get_prompt("secret")});
  CHECK(denied.verdict == Verdict::kForbidden);
  CHECK(denied.description == "prompt 'secret' is not allowed on this route");
  // The method rule adds to the prompt rule.
  auth.methods["prompts/get"] = {"prompts"};
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "prompts:simple"}, {get_prompt("simple")})
            .missing == std::vector<std::string>{"prompts"});
  // Prompt rules do not apply to tools of the same name, nor tool rules to prompts.
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "math:add"}, {call("simple")}).verdict ==
        Verdict::kAllow);
}

TEST_CASE("mcp_authz: resources by URI: exact beats pattern, longest pattern, '*' default") {
  RouteAuth auth;
  auth.scopes = {"mcp:access"};
  auth.resources = {
      {"demo://a/*", {"a"}}, {"demo://a/b/*", {"ab"}}, {"demo://a/b/open", {}}, {"*", {"other"}}};
  auth.denied_resources = {"demo://a/b/secret*"};
  auto needs = [&](const std::string& uri, const std::string& method = "resources/read") {
    bool denied = false;
    auto scopes = mag::mcp::required_scopes(auth, read_resource(uri, method), &denied);
    if (denied) return std::vector<std::string>{"DENIED"};
    return scopes;
  };
  using Scopes = std::vector<std::string>;
  CHECK(needs("demo://a/x") == Scopes{"mcp:access", "a"});
  CHECK(needs("demo://a/") == Scopes{"mcp:access", "a"});
  CHECK(needs("demo://a/b/x") == Scopes{"mcp:access", "ab"});
  CHECK(needs("demo://a/b/open") == Scopes{"mcp:access"});
  CHECK(needs("demo://a/b/open/more") == Scopes{"mcp:access", "ab"});
  CHECK(needs("demo://a/b/secret") == Scopes{"DENIED"});
  CHECK(needs("demo://a/b/secret/x", "resources/subscribe") == Scopes{"DENIED"});
  CHECK(needs("demo://a/b/secret/x", "resources/unsubscribe") == Scopes{"DENIED"});
  CHECK(needs("demo://a") == Scopes{"mcp:access", "other"});
  CHECK(needs("file:///etc/passwd") == Scopes{"mcp:access", "other"});
  // Other methods ignore resource rules.
  CHECK(needs("demo://a/b/secret", "resources/list") == Scopes{"mcp:access"});
  auth.resources.erase("*");
  CHECK(needs("file:///etc/passwd") == Scopes{"mcp:access"});
  auto d = mag::mcp::authorize_messages(auth, {"mcp:access"}, {read_resource("demo://a/x")});
  CHECK(d.verdict == Verdict::kInsufficientScope);
  CHECK(d.description == "resource 'demo://a/x' requires scope a");
  CHECK(d.challenge_scopes == std::vector<std::string>{"mcp:access", "a"});
  CHECK(mag::mcp::authorize_messages(auth, {"mcp:access", "a", "ab"},
                                     {read_resource("demo://a/b/secret")})
            .verdict == Verdict::kForbidden);
}

TEST_CASE("mcp_authz: step-up challenges keep the token's prompt and resource scopes") {
  RouteAuth auth = sample_rules();
  auth.prompts = {{"p", {"prompts:p"}}};
  auth.resources = {{"demo://*", {"res"}}};
  auto d = mag::mcp::authorize_messages(auth, {"mcp:access", "prompts:p", "res"}, {call("add")});
  CHECK(d.challenge_scopes ==
        std::vector<std::string>{"mcp:access", "math:add", "prompts:p", "res"});
}

TEST_CASE(
    "mcp_authz: completion/complete follows the rules of the prompt or template it completes") {
  RouteAuth auth;
  auth.scopes = {"mcp:access"};
  auth.prompts = {{"args-prompt", {"prompts:args"}}};
  auth.denied_prompts = {"secret"};
  auth.resources = {{"demo://open/*", {}}, {"demo://private/*", {"private"}}};
  auth.denied_resources = {"demo://private/keys*"};
  auto needs = [&](std::string JsonRpcMessage::*field, const std::string& target) {
    bool denied = false;
    auto scopes =
        mag::mcp::required_scopes(auth, request("completion/complete", field, target), &denied);
    if (denied) return std::vector<std::string>{"DENIED"};
    return scopes;
  };
  using Scopes = std::vector<std::string>;
  CHECK(needs(&JsonRpcMessage::prompt_name, "args-prompt") == Scopes{"mcp:access", "prompts:args"});
  CHECK(needs(&JsonRpcMessage::prompt_name, "secret") == Scopes{"DENIED"});
  CHECK(needs(&JsonRpcMessage::prompt_name, "unlisted") == Scopes{"mcp:access"});
  CHECK(needs(&JsonRpcMessage::resource_uri, "demo://open/{id}") == Scopes{"mcp:access"});
  // The template could produce demo://private/keys...: the deny governs it.
  CHECK(needs(&JsonRpcMessage::resource_uri, "demo://private/{id}") == Scopes{"DENIED"});
  CHECK(needs(&JsonRpcMessage::resource_uri, "demo://private/notes/{id}") ==
        Scopes{"mcp:access", "private"});
  // Every rule a URI of the template could fall under: "demo://{x}" reaches both trees.
  CHECK(needs(&JsonRpcMessage::resource_uri, "demo://{x}") == Scopes{"DENIED"});
  auth.denied_resources.clear();
  CHECK(needs(&JsonRpcMessage::resource_uri, "demo://{x}") == Scopes{"mcp:access", "private"});
  // A template without `{` is one URI.
  CHECK(needs(&JsonRpcMessage::resource_uri, "demo://open/readme") == Scopes{"mcp:access"});
  auto d = mag::mcp::authorize_messages(
      auth, {"mcp:access"},
      {request("completion/complete", &JsonRpcMessage::prompt_name, "args-prompt")});
  CHECK(d.verdict == Verdict::kInsufficientScope);
  CHECK(d.description == "completion of prompt 'args-prompt' requires scope prompts:args");
}
