// Test-only: the smallest valid gateway config (one listener, provider,
// upstream and protected route), for tests that append to it, and a config
// built around one upstream.
#pragma once

#include <string>

namespace mag::test {

// Ends with the route's last line, so a test can append more keys of that
// route (indented four spaces) or more routes.
inline const std::string kMinimalConfig = R"(listeners:
  - address: 127.0.0.1:8000
providers:
  idp:
    issuer: https://idp.example.com
    jwks_uri: https://idp.example.com/jwks
upstreams:
  backend:
    url: http://127.0.0.1:9000
routes:
  - path_prefix: /mcp
    upstream: backend
    resource: https://gw.example.com/mcp
)";

// A config with one listener, the upstream `backend` (its keys in
// `upstream_body`, indented four spaces) and one unauthenticated route to it
// (more route keys in `route_extra`).
inline std::string config_with_upstream(const std::string& upstream_body,
                                        const std::string& route_extra = "") {
  return "listeners:\n  - address: 127.0.0.1:8000\nupstreams:\n  backend:\n" + upstream_body +
         "routes:\n  - path_prefix: /mcp\n    upstream: backend\n    auth: none\n" + route_extra;
}

}  // namespace mag::test
