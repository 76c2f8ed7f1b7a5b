#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "tests/unit/config_test_util.h"

namespace {

// The minimal config with `auth_body` (indented six spaces) under the
// route's `auth:`.
mag::config::LoadResult load_auth(const std::string& auth_body) {
  return mag::config::load_string(mag::test::kMinimalConfig + "    auth:\n" + auth_body);
}

std::string error_of(const std::string& auth_body) {
  auto result = load_auth(auth_body);
  REQUIRE(result.error);
  return result.error->message;
}

}  // namespace

TEST_CASE("routes_loader: prompts and resources rules load beside tools") {
  auto result = load_auth(R"(      scopes: [mcp]
      prompts:
        simple-prompt: [prompts:simple]
        secret: deny
        "*": []
      resources:
        "demo://resource/static/*": [res:static]
        "demo://resource/static/document/architecture.md": deny
        "demo://private*": deny
        "*": [res:other]
)");
  if (result.error) FAIL(result.error->message);
  const auto& auth = result.config->routes[0].auth;
  CHECK(auth.prompts.at("simple-prompt") == std::vector<std::string>{"prompts:simple"});
  CHECK(auth.prompts.at("*").empty());
  CHECK(auth.denied_prompts == std::vector<std::string>{"secret"});
  CHECK(auth.resources.at("demo://resource/static/*") == std::vector<std::string>{"res:static"});
  CHECK(auth.resources.at("*") == std::vector<std::string>{"res:other"});
  CHECK(auth.denied_resources.size() == 2);
  CHECK(auth.tools.empty());
}

TEST_CASE("routes_loader: bad prompts and resources rules name the key") {
  CHECK(error_of("      prompts:\n        p: allow\n")
            .find("routes[0].auth.prompts.p: expected a list of scopes or 'deny'") !=
        std::string::npos);
  CHECK(error_of("      prompts: [p]\n").find("routes[0].auth.prompts") != std::string::npos);
  CHECK(error_of("      resources:\n        \"demo://a b\": deny\n").find("invalid name") !=
        std::string::npos);
  CHECK(error_of("      resources:\n        \"demo://*/x\": deny\n")
            .find("routes[0].auth.resources.demo://*/x: '*' may only end a resource pattern") !=
        std::string::npos);
  CHECK(error_of("      resources:\n        \"**\": deny\n")
            .find("'*' may only end a resource pattern") != std::string::npos);
  CHECK(error_of("      resources:\n        \"demo://x\": [\"bad scope\"]\n")
            .find("routes[0].auth.resources.demo://x") != std::string::npos);
  CHECK(error_of("      resource:\n        x: deny\n").find("unknown key 'resource'") !=
        std::string::npos);
}
