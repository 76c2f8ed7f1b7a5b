#include "proxy/mcp/list_entry_authz.h"

#include <algorithm>

#include "proxy/mcp/mcp_authz.h"
#include "proxy/mcp/resource_rules.h"

namespace mag::mcp {
namespace {

bool message_allowed(const config::RouteAuth& auth, const std::vector<std::string>& token_scopes,
                     const JsonRpcMessage& message) {
  bool denied = false;
  const auto needed = required_scopes(auth, message, &denied);
  return !denied && holds_all(token_scopes, needed);
}

bool resource_allowed(const config::RouteAuth& auth, const std::vector<std::string>& token_scopes,
                      const std::string& uri) {
  JsonRpcMessage read;
  read.method = "resources/read";
  read.resource_uri = uri;
  return message_allowed(auth, token_scopes, read);
}

// Does the token satisfy the resource rule `key` on its own?
bool resource_rule_satisfied(const config::RouteAuth& auth,
                             const std::vector<std::string>& token_scopes, const std::string& key) {
  auto it = auth.resources.find(key);
  return it != auth.resources.end() && holds_all(token_scopes, it->second);
}

bool template_allowed(const config::RouteAuth& auth, const std::vector<std::string>& token_scopes,
                      const std::string& uri_template) {
  const size_t brace = uri_template.find('{');
  if (brace == std::string::npos) return resource_allowed(auth, token_scopes, uri_template);
  bool denied = false;
  const auto needed = method_scopes(auth, "resources/read", &denied);
  if (denied || !holds_all(token_scopes, needed)) return false;
  const std::string literal_prefix = uri_template.substr(0, brace);
  const auto keys = resource_rule_keys(auth);
  return std::none_of(keys.begin(), keys.end(), [&](const std::string& key) {
    return !resource_rule_satisfied(auth, token_scopes, key) &&
           resource_rule_may_match(key, literal_prefix);
  });
}

bool has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool method_has_rule(const config::RouteAuth& auth, const std::string& method) {
  for (const std::string& name : {method, std::string("*")}) {
    if (auth.methods.count(name) || has(auth.denied_methods, name)) return true;
  }
  return false;
}

}  // namespace

bool list_entry_allowed(const config::RouteAuth& auth, const std::vector<std::string>& token_scopes,
                        ListKind kind, const std::string& key) {
  JsonRpcMessage use;
  use.method = std::string(list_shape(kind).use_method);
  switch (kind) {
    case ListKind::kTools:
      use.tool_name = key;
      return message_allowed(auth, token_scopes, use);
    case ListKind::kPrompts:
      use.prompt_name = key;
      return message_allowed(auth, token_scopes, use);
    case ListKind::kResources:
      return resource_allowed(auth, token_scopes, key);
    case ListKind::kResourceTemplates:
      return template_allowed(auth, token_scopes, key);
  }
  return false;
}

bool may_filter_list(const config::RouteAuth& auth, ListKind kind) {
  if (method_has_rule(auth, std::string(list_shape(kind).use_method))) return true;
  switch (kind) {
    case ListKind::kTools:
      return !auth.tools.empty() || !auth.denied_tools.empty();
    case ListKind::kPrompts:
      return !auth.prompts.empty() || !auth.denied_prompts.empty();
    case ListKind::kResources:
    case ListKind::kResourceTemplates:
      return !auth.resources.empty() || !auth.denied_resources.empty();
  }
  return true;
}

}  // namespace mag::mcp
