// CORS for browser MCP clients (MCP Inspector, web hosts): preflights are
// answered here without a token, and every response exposes the headers a
// browser client must read (WWW-Authenticate on 401s included).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_message.h"

namespace mag::proxy {

struct CorsPolicy {
  std::vector<std::string> allowed_origins = {"*"};
  bool origin_allowed(std::string_view origin) const;
};

// OPTIONS with Origin and Access-Control-Request-Method.
bool is_preflight(const http::RequestHead& request);

// 204 with the Access-Control-Allow-* fields (or a 204 without them when the
// origin is not allowed: the browser then refuses, as it should).
http::ResponseHead preflight_response(const CorsPolicy& policy, const http::RequestHead& request);

// Adds Access-Control-Allow-Origin / -Expose-Headers / Vary to a response to
// a request that carried an allowed Origin. No-op without Origin.
void add_cors_headers(const CorsPolicy& policy, const http::RequestHead& request,
                      http::ResponseHead& response);

}  // namespace mag::proxy
