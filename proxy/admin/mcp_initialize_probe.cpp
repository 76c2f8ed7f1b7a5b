#include "proxy/admin/mcp_initialize_probe.h"

#include <jansson.h>

#include "common/core/c_handles.h"
#include "common/core/version.h"
#include "common/json/json_text.h"
#include "proxy/mcp/sse_event_splitter.h"
#include "proxy/router/media_type.h"
#include "proxy/router/path_rewrite.h"

namespace mag::proxy {
namespace {

constexpr size_t kMaxSseEventBytes = 256 * 1024;

std::string origin_of(const config::UpstreamEndpoint& endpoint, bool tls) {
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") +
         (ipv6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

std::string member(json_t* object, const char* name) {
  json_t* v = json_object_get(object, name);
  return json_is_string(v) ? std::string(json_string_value(v), json_string_length(v)) : "";
}

JsonPtr parse_object(std::string_view text) {
  json_error_t error;
  JsonPtr doc = json_own(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &error));
  return doc && json_is_object(doc.get()) ? std::move(doc) : nullptr;
}

// The JSON-RPC response with id 1 in an SSE body, or null.
JsonPtr response_in_sse(const std::string& body) {
  mcp::SseEventSplitter splitter(kMaxSseEventBytes);
  JsonPtr found;
  auto take = [&](std::string_view event) {
    if (found) return;
    JsonPtr message = parse_object(mcp::sse_event_data(event));
    json_t* id = message ? json_object_get(message.get(), "id") : nullptr;
    if (json_is_integer(id) && json_integer_value(id) == 1) found = std::move(message);
  };
  splitter.feed(body, take, [] {});
  const std::string rest = splitter.take_pending();
  if (!rest.empty()) take(rest);
  return found;
}

}  // namespace

std::vector<McpProbeTarget> mcp_probe_targets(const config::Route& route,
                                              const config::Upstream& upstream) {
  const std::string path = upstream_path(route, upstream, route.path_prefix);
  const std::string host_header = upstream.host_header == config::Upstream::HostHeader::kUpstream
                                      ? ""
                                      : upstream.host_header_value;
  std::vector<std::pair<std::string, std::string>> credentials;
  for (const auto& credential : upstream.credential_headers) {
    credentials.emplace_back(credential.name, credential.value);
  }
  std::vector<McpProbeTarget> targets;
  for (const auto& endpoint : upstream.endpoints) {
    targets.push_back(
        {origin_of(endpoint, upstream.tls) + path, host_header, credentials, upstream.tls_context});
  }
  return targets;
}

http::FetchRequest mcp_initialize_request(const McpProbeTarget& target) {
  JsonPtr body = json_own(
      json_pack("{s:s, s:i, s:s, s:{s:s, s:{}, s:{s:s, s:s}}}", "jsonrpc", "2.0", "id", 1, "method",
                "initialize", "params", "protocolVersion", kProbeProtocolVersion, "capabilities",
                "clientInfo", "name", "mcp-auth-gateway-doctor", "version", kProjectVersion));
  http::FetchRequest request;
  request.method = "POST";
  request.url = target.url;
  request.body = json::to_json_string(body.get(), JSON_COMPACT).value_or("");
  request.headers = {{"Content-Type", "application/json"},
                     {"Accept", "application/json, text/event-stream"}};
  if (!target.host_header.empty()) request.headers.emplace_back("Host", target.host_header);
  request.headers.insert(request.headers.end(), target.credentials.begin(),
                         target.credentials.end());
  return request;
}

http::FetchRequest mcp_session_delete_request(const McpProbeTarget& target,
                                              const std::string& session_id,
                                              const std::string& protocol_version) {
  http::FetchRequest request;
  request.method = "DELETE";
  request.url = target.url;
  request.headers = {{"Mcp-Session-Id", session_id}, {"MCP-Protocol-Version", protocol_version}};
  if (!target.host_header.empty()) request.headers.emplace_back("Host", target.host_header);
  request.headers.insert(request.headers.end(), target.credentials.begin(),
                         target.credentials.end());
  return request;
}

McpInitializeAnswer read_initialize_answer(const http::FetchResult& result) {
  McpInitializeAnswer answer;
  if (!result.ok) {
    answer.problem = result.error;
    return answer;
  }
  if (const std::string_view* id = result.headers.get("Mcp-Session-Id")) {
    answer.session_id = std::string(*id);
  }
  if (result.status != 200) {
    answer.problem = "answered HTTP " + std::to_string(result.status);
    return answer;
  }
  const std::string_view* content_type = result.headers.get("Content-Type");
  const auto media_type = content_type ? parse_media_type(*content_type) : std::nullopt;
  const std::string type = media_type ? media_type->type + "/" + media_type->subtype : "";
  JsonPtr message;
  if (type == "application/json") {
    message = parse_object(result.body);
  } else if (type == "text/event-stream") {
    message = response_in_sse(result.body);
  } else {
    answer.problem = "not an MCP server: answered with Content-Type '" +
                     (content_type ? std::string(*content_type) : std::string()) + "'";
    return answer;
  }
  json_t* response = message ? json_object_get(message.get(), "result") : nullptr;
  answer.protocol_version = response ? member(response, "protocolVersion") : "";
  if (answer.protocol_version.empty()) {
    json_t* error = message ? json_object_get(message.get(), "error") : nullptr;
    answer.problem = error ? "not an MCP server: initialize failed: " + member(error, "message")
                           : "not an MCP server: no result.protocolVersion in the answer";
    return answer;
  }
  json_t* info = json_object_get(response, "serverInfo");
  answer.server_name = member(info, "name");
  answer.server_version = member(info, "version");
  answer.healthy = true;
  return answer;
}

}  // namespace mag::proxy
