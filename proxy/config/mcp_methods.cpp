#include "proxy/config/mcp_methods.h"

#include "proxy/config/value_syntax.h"

namespace mag::config {
namespace {

constexpr MethodDirection kC2S = MethodDirection::kClientToServer;
constexpr MethodDirection kS2C = MethodDirection::kServerToClient;

// A suggestion is only made within this many edits (and less than half the name).
constexpr size_t kMaxSuggestionDistance = 3;

}  // namespace

const std::vector<McpMethod>& mcp_methods() {
  static const std::vector<McpMethod> methods = {
      // Client requests.
      {"initialize", kC2S, "2024-11-05"},
      {"ping", kC2S, "2024-11-05"},  // either side may send it
      {"completion/complete", kC2S, "2024-11-05"},
      {"logging/setLevel", kC2S, "2024-11-05"},
      {"prompts/get", kC2S, "2024-11-05"},
      {"prompts/list", kC2S, "2024-11-05"},
      {"resources/list", kC2S, "2024-11-05"},
      {"resources/templates/list", kC2S, "2024-11-05"},
      {"resources/read", kC2S, "2024-11-05"},
      {"resources/subscribe", kC2S, "2024-11-05"},
      {"resources/unsubscribe", kC2S, "2024-11-05"},
      {"tools/call", kC2S, "2024-11-05"},
      {"tools/list", kC2S, "2024-11-05"},
      // Tasks: either side may ask the other about its tasks.
      {"tasks/get", kC2S, "2025-11-25"},
      {"tasks/result", kC2S, "2025-11-25"},
      {"tasks/list", kC2S, "2025-11-25"},
      {"tasks/cancel", kC2S, "2025-11-25"},
      // Client notifications (cancelled, progress and tasks/status go both ways).
      {"notifications/initialized", kC2S, "2024-11-05"},
      {"notifications/cancelled", kC2S, "2024-11-05"},
      {"notifications/progress", kC2S, "2024-11-05"},
      {"notifications/roots/list_changed", kC2S, "2024-11-05"},
      {"notifications/tasks/status", kC2S, "2025-11-25"},
      // Server requests.
      {"sampling/createMessage", kS2C, "2024-11-05"},
      {"roots/list", kS2C, "2024-11-05"},
      {"elicitation/create", kS2C, "2025-06-18"},
      // Server notifications.
      {"notifications/message", kS2C, "2024-11-05"},
      {"notifications/resources/updated", kS2C, "2024-11-05"},
      {"notifications/resources/list_changed", kS2C, "2024-11-05"},
      {"notifications/tools/list_changed", kS2C, "2024-11-05"},
      {"notifications/prompts/list_changed", kS2C, "2024-11-05"},
      {"notifications/elicitation/complete", kS2C, "2025-11-25"},
  };
  return methods;
}

MethodDirection method_direction(std::string_view name) {
  for (const auto& m : mcp_methods()) {
    if (m.name == name) return m.direction;
  }
  return MethodDirection::kUnknown;
}

std::string closest_client_method(std::string_view name) {
  std::string_view best;
  size_t best_distance = kMaxSuggestionDistance + 1;
  for (const auto& m : mcp_methods()) {
    if (m.direction != MethodDirection::kClientToServer) continue;
    const size_t d = edit_distance(name, m.name);
    if (d < best_distance && d * 2 < m.name.size()) {
      best = m.name;
      best_distance = d;
    }
  }
  return std::string(best);
}

std::string method_rule_error(std::string_view name) {
  if (name == "*") return "";
  switch (method_direction(name)) {
    case MethodDirection::kClientToServer:
      return "";
    case MethodDirection::kServerToClient:
      return "'" + std::string(name) + "' is " +
             (name.starts_with("notifications/") ? "a notification" : "a request") +
             " the server sends to the client; the gateway does not inspect the response "
             "stream, so this rule could not be enforced";
    case MethodDirection::kUnknown:
      break;
  }
  std::string message = "unknown MCP method '" + std::string(name) + "'";
  if (std::string suggestion = closest_client_method(name); !suggestion.empty()) {
    message += "; did you mean '" + suggestion + "'?";
  } else {
    message += " (not a client-to-server method of MCP 2024-11-05 to 2025-11-25)";
  }
  return message;
}

}  // namespace mag::config
