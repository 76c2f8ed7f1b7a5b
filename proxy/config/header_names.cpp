#include "proxy/config/header_names.h"

#include <algorithm>
#include <array>

#include "common/http/hop_by_hop.h"

namespace mag::config {

std::string lower_ascii(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) {
    return static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
  });
  return lower;
}

bool is_gateway_owned_header(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kOwned = {
      // framing and routing
      "host", "content-length", "transfer-encoding", "content-type", "content-encoding", "expect",
      // MCP and the gateway's own fields
      "origin", "accept", "last-event-id", "mcp-session-id", "mcp-protocol-version", "forwarded",
      "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "x-request-id"};
  const std::string lower = lower_ascii(name);
  return std::ranges::find(kOwned, lower) != kOwned.end() ||
         std::ranges::find(http::kHopByHopFields, lower) != http::kHopByHopFields.end();
}

}  // namespace mag::config
