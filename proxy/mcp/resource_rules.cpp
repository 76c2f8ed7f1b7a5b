#include "proxy/mcp/resource_rules.h"

namespace mag::mcp {
namespace {

bool is_pattern(std::string_view key) {
  return !key.empty() && key.back() == '*';
}

std::string_view pattern_prefix(std::string_view key) {
  return key.substr(0, key.size() - 1);
}

}  // namespace

std::vector<std::string> resource_rule_keys(const config::RouteAuth& auth) {
  std::vector<std::string> keys = auth.denied_resources;
  for (const auto& [key, scopes] : auth.resources) keys.push_back(key);
  return keys;
}

std::optional<std::string> resource_rule_key(const config::RouteAuth& auth, std::string_view uri) {
  std::optional<std::string> best;
  for (const std::string& key : resource_rule_keys(auth)) {
    if (!is_pattern(key)) {
      if (key == uri) return key;
      continue;
    }
    const std::string_view prefix = pattern_prefix(key);
    if (uri.starts_with(prefix) && (!best || key.size() > best->size())) best = key;
  }
  return best;
}

bool resource_rule_may_match(std::string_view key, std::string_view literal_prefix) {
  if (!is_pattern(key)) return key.starts_with(literal_prefix);
  const std::string_view prefix = pattern_prefix(key);
  return prefix.starts_with(literal_prefix) || literal_prefix.starts_with(prefix);
}

}  // namespace mag::mcp
