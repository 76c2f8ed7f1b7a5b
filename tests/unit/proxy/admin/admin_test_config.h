// A gateway config with one provider, upstream and route, for the admin
// endpoint and doctor tests; `extra` is appended at the top level.
#pragma once

#include <string>

namespace mag::test {

inline std::string config_yaml(const std::string& extra = "", const std::string& audiences = "[]") {
  return std::string(R"(
listeners: [{address: "127.0.0.1:8000"}]
providers:
  idp:
    issuer: http://as.test
    jwks_uri: http://as.test/jwks
    audiences: )") +
         audiences + R"(
upstreams:
  be: {url: "http://127.0.0.1:9000"}
routes:
  - path_prefix: /mcp
    upstream: be
    resource: http://127.0.0.1:8000/mcp
    auth: {providers: [idp], scopes: [read]}
)" + extra;
}

}  // namespace mag::test
