// Identity to the upstream: `claim_to_headers` (e.g. sub → X-MCP-Subject,
// scope → X-MCP-Scopes) and the optional `forward_payload_header` (the
// token's payload segment, base64url, as Envoy's jwt_authn forwards it; the
// signature never leaves the gateway, so the upstream cannot replay it).
//
// Every configured header name -- of every route -- is removed from the
// client's request first, on every request, token or not, public route or
// not: a client must never be able to pose as someone by sending
// X-MCP-Subject itself (JWT-CLM-16, H1-55).
//
// A claim value is copied exactly or not at all (docs/authorization.md):
// strings as they are when they are a valid field value, numbers and booleans
// as JSON text, arrays and objects as base64url of their compact JSON. A
// string that would need changing (control characters, whitespace at either
// end) or a value over kMaxClaimHeaderBytes is omitted, never escaped or cut,
// and counted in mag_claim_headers_omitted_total.
#pragma once

#include <jansson.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/http/http_message.h"
#include "proxy/config/config.h"

namespace mag::proxy {

inline constexpr size_t kMaxClaimHeaderBytes = 4096;

struct ClaimRendering {
  enum class Status { kOk, kAbsent, kRefused };
  Status status = Status::kAbsent;
  std::string value;        // kOk: the header value
  std::string_view reason;  // kRefused: "control_character", "edge_whitespace", "too_long"
};

// Renders the top-level member `claim` of a token payload (a JSON object).
// Absent, null and "" are kAbsent: no header.
ClaimRendering render_claim(const json_t* payload, std::string_view claim);

// Removes the client's copies of every identity header in `config`.
void strip_identity_headers(const config::Config& config, http::HeaderMap& headers);

// Adds the route's identity headers from `token`, the verified compact JWT
// (only its payload segment is read).
void add_identity_headers(const config::Route& route, std::string_view token,
                          http::HeaderMap& headers);

}  // namespace mag::proxy
