// Test-only: the smallest valid gateway config (one listener, provider,
// upstream and protected route), for tests that append to it.
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

}  // namespace mag::test
