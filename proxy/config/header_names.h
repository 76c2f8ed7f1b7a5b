// Header names a config key may not take (claim_to_headers,
// forward_payload_header, upstream credentials): the fields the HTTP
// framing owns and the ones the gateway itself sets or reads. Writing one of
// them would change how the upstream reads the request.
#pragma once

#include <string>
#include <string_view>

namespace mag::config {

// Case-insensitive: Host, Content-Length, Transfer-Encoding, Content-Type,
// Content-Encoding, Expect, Origin, Accept, Last-Event-ID, Mcp-Session-Id,
// MCP-Protocol-Version, Forwarded, X-Forwarded-For/-Proto/-Host, X-Real-IP,
// X-Request-Id and every hop-by-hop field (common/http/hop_by_hop.h).
bool is_gateway_owned_header(std::string_view name);

// `name` in ASCII lower case.
std::string lower_ascii(std::string_view name);

}  // namespace mag::config
