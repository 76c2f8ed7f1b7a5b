// What the doctor sends to an upstream to see that it is an MCP server, and
// how it reads the answer: a JSON-RPC `initialize` POST (protocol version
// 2025-06-18, Accept: application/json, text/event-stream) to the path the
// route forwards to, answered with JSON or with SSE whose JSON-RPC result
// has a protocolVersion; then a DELETE of the session it opened, if any.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/fetch/http_fetch.h"
#include "proxy/config/config.h"

namespace mag::proxy {

inline constexpr const char* kProbeProtocolVersion = "2025-06-18";

struct McpProbeTarget {
  std::string url;          // endpoint origin + the route's rewritten upstream path
  std::string host_header;  // sent as Host when the upstream fixes one; "" = the endpoint's
  // The upstream's credential headers, sent as every forwarded request sends
  // them: an upstream that needs its key answers the probe as it answers
  // clients.
  std::vector<std::pair<std::string, std::string>> credentials;
  // An https:// upstream's TLS settings (null for http://): the probe
  // verifies and authenticates as forwarded requests do.
  std::shared_ptr<const http::UpstreamTls> tls;
};

// One target per endpoint of the route's upstream.
std::vector<McpProbeTarget> mcp_probe_targets(const config::Route& route,
                                              const config::Upstream& upstream);

http::FetchRequest mcp_initialize_request(const McpProbeTarget& target);
// The DELETE that ends the session `session_id` the initialize opened.
http::FetchRequest mcp_session_delete_request(const McpProbeTarget& target,
                                              const std::string& session_id,
                                              const std::string& protocol_version);

struct McpInitializeAnswer {
  bool healthy = false;
  std::string problem;  // why not, when !healthy ("HTTP 404", "not an MCP server: ...")
  std::string protocol_version;
  std::string server_name;
  std::string server_version;
  std::string session_id;  // the Mcp-Session-Id header, when the server opened a session
};

// Reads the answer to mcp_initialize_request (transport failures included).
McpInitializeAnswer read_initialize_answer(const http::FetchResult& result);

}  // namespace mag::proxy
