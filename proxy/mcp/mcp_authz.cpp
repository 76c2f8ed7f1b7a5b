#include "proxy/mcp/mcp_authz.h"

#include <algorithm>

namespace mag::mcp {
namespace {

constexpr const char* kDefaultRule = "*";

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

void add_unique(std::vector<std::string>* list, const std::string& value) {
  if (!contains(*list, value)) list->push_back(value);
}

// Looks `name` up in a scoped map + deny list, falling back to "*".
void apply_rule(const std::map<std::string, std::vector<std::string>>& scoped,
                const std::vector<std::string>& denied, const std::string& name,
                std::vector<std::string>* required, bool* is_denied) {
  const bool listed = scoped.count(name) || contains(denied, name);
  const std::string& key = listed ? name : std::string(kDefaultRule);
  if (contains(denied, key)) {
    *is_denied = true;
    return;
  }
  auto it = scoped.find(key);
  if (it == scoped.end()) return;
  for (const auto& scope : it->second) add_unique(required, scope);
}

// Every scope any rule of the route mentions.
std::vector<std::string> route_scope_universe(const config::RouteAuth& auth) {
  std::vector<std::string> all = auth.scopes;
  for (const auto& [name, scopes] : auth.methods) {
    for (const auto& scope : scopes) add_unique(&all, scope);
  }
  for (const auto& [name, scopes] : auth.tools) {
    for (const auto& scope : scopes) add_unique(&all, scope);
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

std::string describe(const JsonRpcMessage& message) {
  if (message.method == "tools/call") return "tool '" + message.tool_name + "'";
  if (message.kind == JsonRpcMessage::Kind::kResponse) return "a JSON-RPC response";
  return "method '" + message.method + "'";
}

}  // namespace

bool needs_body(const config::RouteAuth& auth) {
  return !auth.tools.empty() || !auth.denied_tools.empty() || !auth.methods.empty() ||
         !auth.denied_methods.empty();
}

std::vector<std::string> required_scopes(const config::RouteAuth& auth,
                                         const JsonRpcMessage& message, bool* denied) {
  std::vector<std::string> required = auth.scopes;
  *denied = false;
  // Responses (to server-initiated requests) carry no method: the route's
  // scopes cover them.
  if (message.kind == JsonRpcMessage::Kind::kResponse) return required;
  apply_rule(auth.methods, auth.denied_methods, message.method, &required, denied);
  if (message.method == "tools/call") {
    apply_rule(auth.tools, auth.denied_tools, message.tool_name, &required, denied);
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

bool tool_allowed(const config::RouteAuth& auth, const std::vector<std::string>& token_scopes,
                  const std::string& tool) {
  JsonRpcMessage call;
  call.method = "tools/call";
  call.tool_name = tool;
  bool denied = false;
  const auto needed = required_scopes(auth, call, &denied);
  if (denied) return false;
  return std::all_of(needed.begin(), needed.end(),
                     [&](const std::string& scope) { return contains(token_scopes, scope); });
}

bool may_filter_tools(const config::RouteAuth& auth) {
  return !auth.tools.empty() || !auth.denied_tools.empty() || auth.methods.count("tools/call") ||
         auth.methods.count(kDefaultRule) || contains(auth.denied_methods, "tools/call") ||
         contains(auth.denied_methods, kDefaultRule);
}

}  // namespace mag::mcp
