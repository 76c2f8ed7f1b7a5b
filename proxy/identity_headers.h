// Identity to the upstream: `claim_to_headers` (e.g. sub → X-MCP-Subject,
// scope → X-MCP-Scopes) and the optional `forward_payload_header` (the
// token's payload segment, base64url, as Envoy's jwt_authn forwards it; the
// signature never leaves the gateway, so the upstream cannot replay it).
// Every configured header is removed from the client's request first, on
// every request, token or not: a client must never be able to pose as
// someone by sending X-MCP-Subject itself.
#pragma once

#include <string_view>

#include "common/http_message.h"
#include "proxy/config.h"
#include "proxy/jwt_verifier.h"

namespace mag::proxy {

// Removes the client's copies of the route's identity headers.
void strip_identity_headers(const config::Route& route, http::HeaderMap& headers);

// Adds the identity headers for `claims`; `token` is the verified compact
// JWT (only its payload segment is used). Values are sanitised to visible
// ASCII so a claim cannot inject header syntax.
void add_identity_headers(const config::Route& route, const auth::Claims& claims,
                          std::string_view token, http::HeaderMap& headers);

}  // namespace mag::proxy
