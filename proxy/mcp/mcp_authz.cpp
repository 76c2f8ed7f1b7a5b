#include "proxy/mcp/mcp_authz.h"

#include <algorithm>

#include "proxy/mcp/resource_rules.h"

namespace mag::mcp {
namespace {

constexpr const char* kDefaultRule = "*";

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

void add_unique(std::vector<std::string>* list, const std::string& value) {
  if (!contains(*list, value)) list->push_back(value);
}

using Rules = std::map<std::string, std::vector<std::string>>;

// Applies the rule `key` of a scoped map + deny list, when there is one.
void apply_key(const Rules& scoped, const std::vector<std::string>& denied, const std::string& key,
               std::vector<std::string>* required, bool* is_denied) {
  if (contains(denied, key)) {
    *is_denied = true;
    return;
  }
  auto it = scoped.find(key);
  if (it == scoped.end()) return;
  for (const auto& scope : it->second) add_unique(required, scope);
}

// Looks `name` up in a scoped map + deny list, falling back to "*".
void apply_rule(const Rules& scoped, const std::vector<std::string>& denied,
                const std::string& name, std::vector<std::string>* required, bool* is_denied) {
  const bool listed = scoped.count(name) || contains(denied, name);
  apply_key(scoped, denied, listed ? name : std::string(kDefaultRule), required, is_denied);
}

bool is_resource_method(const std::string& method) {
  return method == "resources/read" || method == "resources/subscribe" ||
         method == "resources/unsubscribe";
}

// Every scope any rule of the route mentions.
std::vector<std::string> route_scope_universe(const config::RouteAuth& auth) {
  std::vector<std::string> all = auth.scopes;
  for (const Rules* rules : {&auth.methods, &auth.tools, &auth.prompts, &auth.resources}) {
    for (const auto& [name, scopes] : *rules) {
      for (const auto& scope : scopes) add_unique(&all, scope);
    }
  }
  return all;
}

AuthzDecision decide(const config::RouteAuth& auth, const std::vector<std::string>& token_scopes,
                     const std::vector<std::string>& required, bool denied,
                     const std::string& what) {
  AuthzDecision decision;
  if (denied) {
    decision.verdict = AuthzDecision::Verdict::kForbidden;
    decision.description = what + " is not allowed on this route";
    return decision;
  }
  for (const auto& scope : required) {
    if (!contains(token_scopes, scope)) decision.missing.push_back(scope);
  }
  if (decision.missing.empty()) return decision;
  decision.verdict = AuthzDecision::Verdict::kInsufficientScope;
  for (const auto& scope : required) {
    if (contains(token_scopes, scope)) decision.challenge_scopes.push_back(scope);
  }
  for (const auto& scope : decision.missing) decision.challenge_scopes.push_back(scope);
  for (const auto& scope : route_scope_universe(auth)) {
    if (contains(token_scopes, scope)) add_unique(&decision.challenge_scopes, scope);
  }
  std::string missing_text;
  for (const auto& scope : decision.missing) {
    missing_text += (missing_text.empty() ? "" : " ") + scope;
  }
  decision.description = what + " requires scope " + missing_text;
  return decision;
}

// A resource template (completion/complete of a ref/resource): every rule
// that could govern a URI the template produces applies, judged from the
// template's literal prefix as resources/templates/list judges it
// (proxy/mcp/list_entry_authz.h). A template without `{` is one URI.
void apply_template_rules(const config::RouteAuth& auth, const std::string& uri_template,
                          std::vector<std::string>* required, bool* denied) {
  const size_t brace = uri_template.find('{');
  if (brace == std::string::npos) {
    if (auto key = resource_rule_key(auth, uri_template)) {
      apply_key(auth.resources, auth.denied_resources, *key, required, denied);
    }
    return;
  }
  const std::string_view literal_prefix = std::string_view(uri_template).substr(0, brace);
  for (const std::string& key : resource_rule_keys(auth)) {
    if (resource_rule_may_match(key, literal_prefix)) {
      apply_key(auth.resources, auth.denied_resources, key, required, denied);
    }
  }
}

std::string describe(const JsonRpcMessage& message) {
  if (message.method == "tools/call") return "tool '" + message.tool_name + "'";
  if (message.method == "prompts/get") return "prompt '" + message.prompt_name + "'";
  if (message.method == "completion/complete") {
    return message.prompt_name.empty()
               ? "completion of resource template '" + message.resource_uri + "'"
               : "completion of prompt '" + message.prompt_name + "'";
  }
  if (is_resource_method(message.method)) return "resource '" + message.resource_uri + "'";
  if (message.kind == JsonRpcMessage::Kind::kResponse) return "a JSON-RPC response";
  return "method '" + message.method + "'";
}

}  // namespace

bool needs_body(const config::RouteAuth& auth) {
  return !auth.tools.empty() || !auth.denied_tools.empty() || !auth.methods.empty() ||
         !auth.denied_methods.empty() || !auth.prompts.empty() || !auth.denied_prompts.empty() ||
         !auth.resources.empty() || !auth.denied_resources.empty();
}

std::vector<std::string> method_scopes(const config::RouteAuth& auth, const std::string& method,
                                       bool* denied) {
  std::vector<std::string> required = auth.scopes;
  *denied = false;
  apply_rule(auth.methods, auth.denied_methods, method, &required, denied);
  return required;
}

bool holds_all(const std::vector<std::string>& token_scopes,
               const std::vector<std::string>& needed) {
  return std::all_of(needed.begin(), needed.end(),
                     [&](const std::string& scope) { return contains(token_scopes, scope); });
}

std::vector<std::string> required_scopes(const config::RouteAuth& auth,
                                         const JsonRpcMessage& message, bool* denied) {
  *denied = false;
  // Responses (to server-initiated requests) carry no method: the route's
  // scopes cover them.
  if (message.kind == JsonRpcMessage::Kind::kResponse) return auth.scopes;
  std::vector<std::string> required = method_scopes(auth, message.method, denied);
  if (message.method == "tools/call") {
    apply_rule(auth.tools, auth.denied_tools, message.tool_name, &required, denied);
  } else if (message.method == "prompts/get") {
    apply_rule(auth.prompts, auth.denied_prompts, message.prompt_name, &required, denied);
  } else if (message.method == "completion/complete") {
    if (!message.prompt_name.empty()) {
      apply_rule(auth.prompts, auth.denied_prompts, message.prompt_name, &required, denied);
    } else {
      apply_template_rules(auth, message.resource_uri, &required, denied);
    }
  } else if (is_resource_method(message.method)) {
    if (auto key = resource_rule_key(auth, message.resource_uri)) {
      apply_key(auth.resources, auth.denied_resources, *key, &required, denied);
    }
  }
  return required;
}

AuthzDecision authorize_route(const config::RouteAuth& auth,
                              const std::vector<std::string>& token_scopes) {
  return decide(auth, token_scopes, auth.scopes, false, "this route");
}

AuthzDecision authorize_messages(const config::RouteAuth& auth,
                                 const std::vector<std::string>& token_scopes,
                                 const std::vector<JsonRpcMessage>& messages) {
  std::vector<std::string> required = auth.scopes;
  std::string what = "this request";
  for (const auto& message : messages) {
    bool denied = false;
    const auto needed = required_scopes(auth, message, &denied);
    if (denied) return decide(auth, token_scopes, {}, true, describe(message));
    bool adds = false;
    for (const auto& scope : needed) {
      if (!contains(token_scopes, scope)) adds = true;
      add_unique(&required, scope);
    }
    if (adds && what == "this request") what = describe(message);
  }
  return decide(auth, token_scopes, required, false, what);
}

}  // namespace mag::mcp
