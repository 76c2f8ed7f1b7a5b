// What the mcp_authz stage refuses from the request head alone so that the
// upstream executes exactly what the gateway authorized: the gateway reads a
// body as plain UTF-8 JSON (jansson) and an MCP header as one value, and an
// upstream that would read either differently (a charset, a content coding,
// a second field) must never get the request. Pure functions over the head;
// the refusals carry a JSON-RPC error body without id.
#pragma once

#include <optional>

#include "common/http/http_message.h"
#include "proxy/router/local_reply.h"

namespace mag::proxy {

// One value per MCP header: Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method
// and Mcp-Name each at most once and without a comma (a comma-joined value
// is two values to a proxy or framework that splits lists) → 400. Applies
// to every route.
std::optional<LocalReply> screen_mcp_headers(const http::HeaderMap& headers);

// For a route whose rules read the JSON-RPC body (mcp::needs_body):
//  - POST: exactly one Content-Type, `application/json` with at most the
//    parameter `charset=utf-8` (proxy/router/media_type.h) → else 415 (400 for two
//    Content-Type fields); no Content-Encoding other than one `identity`
//    → else 415 with `Accept-Encoding: identity`.
//  - any other method: no body announced by the head (Content-Length other
//    than 0, or Transfer-Encoding) → else 400. A body that arrives without
//    such a field (HTTP/2 DATA) is refused by RequestAuthz as it arrives.
std::optional<LocalReply> screen_inspected_request(const http::RequestHead& request);

}  // namespace mag::proxy
