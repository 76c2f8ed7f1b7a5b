#include "proxy/router/upstream_affinity.h"

#include "proxy/router/local_reply.h"

namespace mag::proxy {
namespace {

const std::string_view* session_id(const http::HeaderMap& headers) {
  const std::string_view* id = headers.get("mcp-session-id");
  return id && !id->empty() ? id : nullptr;
}

}  // namespace

std::optional<size_t> affine_endpoint(http::UpstreamEndpoints& endpoints,
                                      const http::RequestHead& request) {
  if (endpoints.size() < 2) return std::nullopt;
  const std::string_view* id = session_id(request.headers);
  if (!id) return std::nullopt;
  return endpoints.sessions().find(std::string(*id), http::AffinityTable::Clock::now());
}

void learn_affinity(http::UpstreamEndpoints& endpoints, const http::RequestHead& request,
                    const http::ResponseHead& response, size_t endpoint) {
  if (endpoints.size() < 2) return;
  const std::string_view* request_session = session_id(request.headers);
  const bool success = response.status >= 200 && response.status < 300;
  if (request_session && (response.status == 404 || (request.method == "DELETE" && success))) {
    endpoints.sessions().forget(std::string(*request_session));
    return;
  }
  if (!success) return;
  const std::string_view* id = session_id(response.headers);
  if (!id) id = request_session;
  if (id) endpoints.sessions().bind(std::string(*id), endpoint, http::AffinityTable::Clock::now());
}

LocalReply session_lost(http::UpstreamEndpoints& endpoints, const http::RequestHead& request) {
  if (const std::string_view* id = session_id(request.headers))
    endpoints.sessions().forget(std::string(*id));
  LocalReply reply = json_document(404, jsonrpc_error_without_id(-32001, "Session not found"));
  reply.head.headers.add("Cache-Control", "no-store");
  return reply;
}

}  // namespace mag::proxy
