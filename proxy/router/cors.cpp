#include "proxy/router/cors.h"

#include <algorithm>

namespace mag::proxy {
namespace {

constexpr const char* kExposed = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";
constexpr const char* kAllowedHeaders =
    "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID";
constexpr const char* kAllowedMethods = "GET, POST, DELETE, OPTIONS";

bool is_token_list(std::string_view value) {
  // Only reflect a request-header list made of tokens, commas and spaces, so
  // nothing odd is echoed back into a response header.
  return std::all_of(value.begin(), value.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == ',' || c == ' ' || c == '.';
  });
}

void set_allow_origin(const CorsPolicy& policy, std::string_view origin, http::HeaderMap& headers) {
  const bool any = std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), "*") !=
                   policy.allowed_origins.end();
  headers.set("Access-Control-Allow-Origin", any ? "*" : origin);
  if (!any) headers.add("Vary", "Origin");
}

}  // namespace

bool CorsPolicy::origin_allowed(std::string_view origin) const {
  for (const auto& allowed : allowed_origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

bool is_preflight(const http::RequestHead& request) {
  return request.method == "OPTIONS" && request.headers.has("origin") &&
         request.headers.has("access-control-request-method");
}

http::ResponseHead preflight_response(const CorsPolicy& policy, const http::RequestHead& request) {
  http::ResponseHead response;
  response.status = 204;
  const std::string_view origin = *request.headers.get("origin");
  if (!policy.origin_allowed(origin)) return response;
  set_allow_origin(policy, origin, response.headers);
  response.headers.add("Access-Control-Allow-Methods", kAllowedMethods);
  const std::string_view* requested = request.headers.get("access-control-request-headers");
  response.headers.add("Access-Control-Allow-Headers", requested && is_token_list(*requested)
                                                           ? *requested
                                                           : std::string_view(kAllowedHeaders));
  response.headers.add("Access-Control-Expose-Headers", kExposed);
  response.headers.add("Access-Control-Max-Age", "86400");
  return response;
}

void add_cors_headers(const CorsPolicy& policy, const http::RequestHead& request,
                      http::ResponseHead& response) {
  const std::string_view* origin = request.headers.get("origin");
  if (!origin || !policy.origin_allowed(*origin)) return;
  set_allow_origin(policy, *origin, response.headers);
  response.headers.set("Access-Control-Expose-Headers", kExposed);
}

}  // namespace mag::proxy
