#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/mcp/list_entry_authz.h"

using mag::config::RouteAuth;
using mag::mcp::list_entry_allowed;
using mag::mcp::ListKind;
using mag::mcp::may_filter_list;

namespace {

RouteAuth rules() {
  RouteAuth auth;
  auth.scopes = {"mcp:access"};
  auth.tools = {{"add", {"math:add"}}};
  auth.denied_tools = {"rm"};
  auth.prompts = {{"simple", {"prompts:simple"}}};
  auth.denied_prompts = {"secret"};
  auth.resources = {{"demo://static/*", {"res:static"}}, {"demo://static/open", {}}};
  auth.denied_resources = {"demo://private/*"};
  return auth;
}

}  // namespace

TEST_CASE("list_entry_authz: a tool is listed when the token may call it") {
  const RouteAuth auth = rules();
  CHECK(list_entry_allowed(auth, {"mcp:access", "math:add"}, ListKind::kTools, "add"));
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access"}, ListKind::kTools, "add"));
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access", "math:add"}, ListKind::kTools, "rm"));
  CHECK(list_entry_allowed(auth, {"mcp:access"}, ListKind::kTools, "echo"));
}

TEST_CASE("list_entry_authz: a prompt is listed when the token may get it, method rules included") {
  RouteAuth auth = rules();
  CHECK(list_entry_allowed(auth, {"mcp:access", "prompts:simple"}, ListKind::kPrompts, "simple"));
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access"}, ListKind::kPrompts, "simple"));
  CHECK_FALSE(
      list_entry_allowed(auth, {"mcp:access", "prompts:simple"}, ListKind::kPrompts, "secret"));
  CHECK(list_entry_allowed(auth, {"mcp:access"}, ListKind::kPrompts, "other"));
  // A tool rule of the same name is not a prompt rule.
  CHECK(list_entry_allowed(auth, {"mcp:access"}, ListKind::kPrompts, "rm"));
  auth.methods = {{"prompts/get", {"prompts"}}};
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access"}, ListKind::kPrompts, "other"));
  CHECK(list_entry_allowed(auth, {"mcp:access", "prompts"}, ListKind::kPrompts, "other"));
  auth.methods.clear();
  auth.denied_methods = {"prompts/get"};
  CHECK_FALSE(
      list_entry_allowed(auth, {"mcp:access", "prompts:simple"}, ListKind::kPrompts, "simple"));
  // The "*" method default covers prompts/get too.
  auth.denied_methods = {"*"};
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access"}, ListKind::kPrompts, "other"));
}

TEST_CASE("list_entry_authz: a resource is listed when the token may read its uri") {
  RouteAuth auth = rules();
  CHECK(list_entry_allowed(auth, {"mcp:access", "res:static"}, ListKind::kResources,
                           "demo://static/1"));
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access"}, ListKind::kResources, "demo://static/1"));
  CHECK(list_entry_allowed(auth, {"mcp:access"}, ListKind::kResources, "demo://static/open"));
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access", "res:static"}, ListKind::kResources,
                                 "demo://private/x"));
  CHECK(list_entry_allowed(auth, {"mcp:access"}, ListKind::kResources, "demo://dynamic/1"));
  auth.methods = {{"resources/read", {"read"}}};
  CHECK_FALSE(list_entry_allowed(auth, {"mcp:access"}, ListKind::kResources, "demo://dynamic/1"));
}

TEST_CASE(
    "list_entry_authz: a template is listed only when every URI it could produce may be read") {
  RouteAuth auth = rules();
  const std::vector<std::string> plain = {"mcp:access"};
  const std::vector<std::string> with_static = {"mcp:access", "res:static"};
  // Literal prefix demo://dynamic/: no rule the token fails reaches it.
  CHECK(list_entry_allowed(auth, plain, ListKind::kResourceTemplates, "demo://dynamic/{id}"));
  // demo://static/{id} reaches demo://static/* (needs res:static).
  CHECK_FALSE(list_entry_allowed(auth, plain, ListKind::kResourceTemplates, "demo://static/{id}"));
  CHECK(list_entry_allowed(auth, with_static, ListKind::kResourceTemplates, "demo://static/{id}"));
  // A shorter literal prefix reaches the deny pattern: hidden whatever the scopes.
  CHECK_FALSE(list_entry_allowed(auth, with_static, ListKind::kResourceTemplates, "demo://{path}"));
  CHECK_FALSE(list_entry_allowed(auth, with_static, ListKind::kResourceTemplates, "{uri}"));
  // A literal prefix longer than a pattern's prefix lies inside it.
  CHECK_FALSE(
      list_entry_allowed(auth, plain, ListKind::kResourceTemplates, "demo://static/docs/{id}"));
  // Exact keys count when they start with the literal prefix.
  RouteAuth exact;
  exact.resources = {{"demo://x/secret", {"s"}}};
  CHECK_FALSE(list_entry_allowed(exact, plain, ListKind::kResourceTemplates, "demo://x/{name}"));
  CHECK(list_entry_allowed(exact, {"s"}, ListKind::kResourceTemplates, "demo://x/{name}"));
  CHECK(list_entry_allowed(exact, plain, ListKind::kResourceTemplates, "demo://y/{name}"));
  // A template without '{' is one URI.
  CHECK(list_entry_allowed(auth, plain, ListKind::kResourceTemplates, "demo://static/open"));
  CHECK_FALSE(list_entry_allowed(auth, plain, ListKind::kResourceTemplates, "demo://static/x"));
  // An unsatisfied "*" default reaches every template.
  auth.resources["*"] = {"res:any"};
  CHECK_FALSE(
      list_entry_allowed(auth, with_static, ListKind::kResourceTemplates, "demo://dynamic/{id}"));
  CHECK(list_entry_allowed(auth, {"mcp:access", "res:any"}, ListKind::kResourceTemplates,
                           "demo://dynamic/{id}"));
  // resources/read refused outright hides every template.
  auth = rules();
  auth.denied_methods = {"resources/read"};
  CHECK_FALSE(list_entry_allowed(auth, plain, ListKind::kResourceTemplates, "demo://dynamic/{id}"));
  auth.denied_methods.clear();
  auth.methods = {{"resources/read", {"read"}}};
  CHECK_FALSE(list_entry_allowed(auth, plain, ListKind::kResourceTemplates, "demo://dynamic/{id}"));
  CHECK(list_entry_allowed(auth, {"mcp:access", "read"}, ListKind::kResourceTemplates,
                           "demo://dynamic/{id}"));
}

TEST_CASE("list_entry_authz: lists are filtered only where some rule could hide an entry") {
  RouteAuth plain;
  plain.scopes = {"a"};
  for (auto kind :
       {ListKind::kTools, ListKind::kPrompts, ListKind::kResources, ListKind::kResourceTemplates}) {
    CHECK_FALSE(may_filter_list(plain, kind));
  }
  RouteAuth prompts = plain;
  prompts.prompts = {{"p", {"s"}}};
  CHECK(may_filter_list(prompts, ListKind::kPrompts));
  CHECK_FALSE(may_filter_list(prompts, ListKind::kTools));
  CHECK_FALSE(may_filter_list(prompts, ListKind::kResources));
  RouteAuth resources = plain;
  resources.denied_resources = {"x"};
  CHECK(may_filter_list(resources, ListKind::kResources));
  CHECK(may_filter_list(resources, ListKind::kResourceTemplates));
  CHECK_FALSE(may_filter_list(resources, ListKind::kPrompts));
  RouteAuth method = plain;
  method.methods = {{"prompts/get", {"s"}}};
  CHECK(may_filter_list(method, ListKind::kPrompts));
  CHECK_FALSE(may_filter_list(method, ListKind::kTools));
  method.denied_methods = {"resources/read"};
  CHECK(may_filter_list(method, ListKind::kResourceTemplates));
  RouteAuth any = plain;
  any.methods = {{"*", {"s"}}};
  CHECK(may_filter_list(any, ListKind::kTools));
  CHECK(may_filter_list(any, ListKind::kResources));
  CHECK(may_filter_list(rules(), ListKind::kTools));
}
