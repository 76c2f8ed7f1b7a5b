// The MCP methods a `methods:` rule can name: what a client sends to the
// server (requests and notifications), for every protocol version the
// gateway serves (2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25), plus "*".
// The gateway reads client-to-server bodies only; a request or notification
// the server sends to the client travels on the response stream, which it
// does not inspect, so a rule for it could never be enforced.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mag::config {

enum class MethodDirection {
  kClientToServer,  // sent by the client (some, like ping, by both sides)
  kServerToClient,  // sent by the server only
  kUnknown,
};

struct McpMethod {
  std::string_view name;
  MethodDirection direction;
  std::string_view since;  // first protocol version that has it
};

// Every method the catalogue knows, in both directions.
const std::vector<McpMethod>& mcp_methods();

MethodDirection method_direction(std::string_view name);

// The closest client-to-server method within a small edit distance, or "".
std::string closest_client_method(std::string_view name);

// "" when `name` may be a `methods:` rule ("*" or a client-to-server method);
// otherwise why not, with a suggestion when one is close.
std::string method_rule_error(std::string_view name);

}  // namespace mag::config
