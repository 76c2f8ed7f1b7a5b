#include <doctest/doctest.h>

#include <jansson.h>

#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "proxy/config/config.h"
#include "proxy/router/protected_resource_metadata.h"

namespace {

const char* kTwoRoutes = R"(listeners:
  - address: 127.0.0.1:8000
providers:
  a:
    issuer: https://a.example.com
    jwks_uri: https://a.example.com/jwks
  b:
    issuer: https://b.example.com
    jwks_uri: https://b.example.com/jwks
  a2:
    issuer: https://a.example.com
    jwks_uri: https://a.example.com/jwks2
upstreams:
  up:
    url: http://127.0.0.1:9000
routes:
  - path_prefix: /open
    upstream: up
    auth: none
  - path_prefix: /mcp
    upstream: up
    resource: https://gw.example.com/mcp
    resource_name: Math
    auth:
      providers: [b, a, a2]
      scopes: [mcp, read]
      tools:
        add: [math:add, mcp]
        sub: [math:sub]
  - path_prefix: /bare
    upstream: up
    resource: https://GW.example.com:8443/Bare/
    auth:
      providers: [a]
)";

std::shared_ptr<const mag::config::Config> load(const char* yaml) {
  auto result = mag::config::load_string(yaml, "prm.yaml");
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  return result.config;
}

std::vector<std::string> strings(json_t* array) {
  std::vector<std::string> out;
  REQUIRE(json_is_array(array));
  for (size_t i = 0; i < json_array_size(array); ++i) {
    out.emplace_back(json_string_value(json_array_get(array, i)));
  }
  return out;
}

// RFC 9728 §3.2: no null, empty-array or empty-string members.
void check_no_zero_values(json_t* doc) {
  const char* key;
  json_t* value;
  json_object_foreach(doc, key, value) {
    CAPTURE(key);
    CHECK_FALSE(json_is_null(value));
    if (json_is_array(value)) CHECK(json_array_size(value) > 0);
    if (json_is_string(value)) CHECK(json_string_length(value) > 0);
  }
}

}  // namespace

TEST_CASE("protected_resource_metadata: document for a route with scopes") {
  auto config = load(kTwoRoutes);
  const auto& route = config->routes.at(1);
  const std::string text = mag::proxy::protected_resource_metadata_json(route, *config);
  json_error_t error;
  mag::JsonPtr doc = mag::json_own(json_loads(text.c_str(), JSON_REJECT_DUPLICATES, &error));
  REQUIRE(doc);
  check_no_zero_values(doc.get());
  CHECK(std::string(json_string_value(json_object_get(doc.get(), "resource"))) ==
        "https://gw.example.com/mcp");
  CHECK(strings(json_object_get(doc.get(), "authorization_servers")) ==
        std::vector<std::string>{"https://b.example.com", "https://a.example.com"});
  CHECK(strings(json_object_get(doc.get(), "scopes_supported")) ==
        std::vector<std::string>{"mcp", "read", "math:add", "math:sub"});
  CHECK(strings(json_object_get(doc.get(), "bearer_methods_supported")) ==
        std::vector<std::string>{"header"});
  CHECK(std::string(json_string_value(json_object_get(doc.get(), "resource_name"))) == "Math");
  CHECK(json_object_size(doc.get()) == 5);
}

TEST_CASE("protected_resource_metadata: no scopes means no scopes_supported member") {
  auto config = load(kTwoRoutes);
  const auto& route = config->routes.at(2);
  const std::string text = mag::proxy::protected_resource_metadata_json(route, *config);
  json_error_t error;
  mag::JsonPtr doc = mag::json_own(json_loads(text.c_str(), JSON_REJECT_DUPLICATES, &error));
  REQUIRE(doc);
  check_no_zero_values(doc.get());
  CHECK(json_object_get(doc.get(), "scopes_supported") == nullptr);
  CHECK(json_object_get(doc.get(), "resource_name") == nullptr);
  // Byte-equal to the configured resource, case and trailing slash included.
  CHECK(std::string(json_string_value(json_object_get(doc.get(), "resource"))) ==
        "https://GW.example.com:8443/Bare/");
  CHECK(text.find("\"resource\":\"https://GW.example.com:8443/Bare/\"") != std::string::npos);
}

TEST_CASE("protected_resource_metadata: lookup by path") {
  auto config = load(kTwoRoutes);
  const auto* mcp = &config->routes.at(1);
  const auto* bare = &config->routes.at(2);
  using mag::proxy::find_metadata_route;

  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/mcp", *config) == mcp);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/mcp/", *config) == mcp);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/Bare/", *config) == bare);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/Bare", *config) == bare);
  // The root serves the first protected route (routes[0] has auth: none).
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource", *config) == mcp);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/", *config) == mcp);

  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/open", *config) == nullptr);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/mcp//", *config) == nullptr);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/mcpx", *config) == nullptr);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resource/mcp/x", *config) == nullptr);
  CHECK(find_metadata_route("/.well-known/oauth-protected-resourcex", *config) == nullptr);
  CHECK(find_metadata_route("/mcp", *config) == nullptr);
  CHECK(find_metadata_route("", *config) == nullptr);
}

TEST_CASE("protected_resource_metadata: an origin-only resource owns the root") {
  const char* yaml = R"(listeners:
  - address: 127.0.0.1:8000
providers:
  a:
    issuer: https://a.example.com
    jwks_uri: https://a.example.com/jwks
upstreams:
  up:
    url: http://127.0.0.1:9000
routes:
  - path_prefix: /mcp
    upstream: up
    resource: https://gw.example.com/mcp
  - path_prefix: /
    upstream: up
    resource: https://gw.example.com/
)";
  auto config = load(yaml);
  CHECK(mag::proxy::find_metadata_route("/.well-known/oauth-protected-resource", *config) ==
        &config->routes.at(1));
  CHECK(mag::proxy::find_metadata_route("/.well-known/oauth-protected-resource/mcp", *config) ==
        &config->routes.at(0));
}
