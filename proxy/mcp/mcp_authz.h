// mcp_authz: which scopes an MCP request needs, and whether a token's scopes
// suffice. Pure functions over the route's rules (config::RouteAuth) and the
// JSON-RPC messages the inspector found, so every rule is unit-testable.
//
// A message needs: the route's `scopes`, plus the scopes of its method in
// `methods` (or of "*" there when the method is not listed), plus, for
// tools/call, the scopes of its tool in `tools` (or of "*"), for
// prompts/get, those of its prompt in `prompts` (or of "*"), and for
// resources/read, /subscribe and /unsubscribe, those of the rule in
// `resources` that governs its URI (proxy/mcp/resource_rules.h); for
// completion/complete, the rules of the prompt or the resource template it
// completes (every resource rule that could govern a URI of the template).
// A `deny`
// rule cannot be satisfied by any scope: the answer is then a plain 403.
#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/mcp/jsonrpc_inspect.h"

namespace mag::mcp {

struct AuthzDecision {
  enum class Verdict {
    kAllow,
    kInsufficientScope,  // 403 error="insufficient_scope" with `challenge_scopes`
    kForbidden,          // plain 403: a `deny` rule, no scope fixes it
  };
  Verdict verdict = Verdict::kAllow;
  // For kInsufficientScope: every scope this request needs (those the token
  // already has first), then the token's other scopes that this route's
  // rules use. TS SDK v1 clients *replace* their scope set with the
  // challenge, so keeping the route's still-useful scopes stops them from
  // trading one tool's scope for another's on every step-up.
  std::vector<std::string> challenge_scopes;
  std::vector<std::string> missing;  // for logs: what the token lacks
  std::string description;           // safe for headers and logs
};

// True when some rule depends on the JSON-RPC body (tools, prompts,
// resources or methods set): only then is the request body buffered and
// inspected.
bool needs_body(const config::RouteAuth& auth);

// Scopes one message needs; `denied` set when a deny rule matches.
std::vector<std::string> required_scopes(const config::RouteAuth& auth,
                                         const JsonRpcMessage& message, bool* denied);

// The route's scopes and the rule of `method` in `methods`, without the
// per-name rules: what any request with this method needs.
std::vector<std::string> method_scopes(const config::RouteAuth& auth, const std::string& method,
                                       bool* denied);

// True when the token holds every scope of `needed`.
bool holds_all(const std::vector<std::string>& token_scopes,
               const std::vector<std::string>& needed);

// The route's own scopes only (GET/DELETE, or a body no rule needs to read).
AuthzDecision authorize_route(const config::RouteAuth& auth,
                              const std::vector<std::string>& token_scopes);

// Every message of the body (a batch is allowed only when all its messages are).
AuthzDecision authorize_messages(const config::RouteAuth& auth,
                                 const std::vector<std::string>& token_scopes,
                                 const std::vector<JsonRpcMessage>& messages);

}  // namespace mag::mcp
