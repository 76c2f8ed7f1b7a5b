// The MCP method catalogue behind `methods:` rules, its suggestions, and the
// load errors a rule naming an unknown or server-to-client method gets.
#include <doctest/doctest.h>

#include <jansson.h>

#include <set>
#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "proxy/config/config.h"
#include "proxy/config/mcp_methods.h"
#include "proxy/config/value_syntax.h"
#include "tests/unit/config_test_util.h"

using mag::json_own;
using mag::JsonPtr;
using mag::config::MethodDirection;

namespace {

std::string with_method_rule(const std::string& rule) {
  return mag::test::kMinimalConfig + "    auth:\n      methods:\n        " + rule + "\n";
}

std::string load_error(const std::string& yaml) {
  auto result = mag::config::load_string(yaml, "gw.yaml");
  REQUIRE_FALSE(result.config);
  REQUIRE(result.error);
  return result.error->message;
}

}  // namespace

TEST_CASE("mcp_methods: every client-to-server method of the served versions is known") {
  for (const char* name : {"initialize",
                           "ping",
                           "completion/complete",
                           "logging/setLevel",
                           "prompts/get",
                           "prompts/list",
                           "resources/list",
                           "resources/templates/list",
                           "resources/read",
                           "resources/subscribe",
                           "resources/unsubscribe",
                           "tools/call",
                           "tools/list",
                           "tasks/get",
                           "tasks/result",
                           "tasks/list",
                           "tasks/cancel",
                           "notifications/initialized",
                           "notifications/cancelled",
                           "notifications/progress",
                           "notifications/roots/list_changed",
                           "notifications/tasks/status"}) {
    CAPTURE(name);
    CHECK(mag::config::method_direction(name) == MethodDirection::kClientToServer);
    CHECK(mag::config::method_rule_error(name).empty());
  }
  CHECK(mag::config::method_rule_error("*").empty());
}

TEST_CASE("mcp_methods: server-to-client methods are known as such") {
  for (const char* name :
       {"sampling/createMessage", "elicitation/create", "roots/list", "notifications/message",
        "notifications/resources/updated", "notifications/resources/list_changed",
        "notifications/tools/list_changed", "notifications/prompts/list_changed",
        "notifications/elicitation/complete"}) {
    CAPTURE(name);
    CHECK(mag::config::method_direction(name) == MethodDirection::kServerToClient);
    CHECK(mag::config::method_rule_error(name).find("could not be enforced") != std::string::npos);
  }
  CHECK(mag::config::method_rule_error("sampling/createMessage").find("a request the server") !=
        std::string::npos);
  CHECK(mag::config::method_rule_error("notifications/message").find("a notification") !=
        std::string::npos);
}

TEST_CASE("mcp_methods: names are unique in the catalogue") {
  std::set<std::string_view> seen;
  for (const auto& m : mag::config::mcp_methods()) {
    CAPTURE(m.name);
    CHECK(seen.insert(m.name).second);
  }
}

TEST_CASE("mcp_methods: edit distance") {
  CHECK(mag::config::edit_distance("", "") == 0);
  CHECK(mag::config::edit_distance("abc", "") == 3);
  CHECK(mag::config::edit_distance("", "abc") == 3);
  CHECK(mag::config::edit_distance("kitten", "sitting") == 3);
  CHECK(mag::config::edit_distance("prompts/gett", "prompts/get") == 1);
  CHECK(mag::config::edit_distance("tools/cal", "tools/call") == 1);
  CHECK(mag::config::edit_distance("tools/lits", "tools/list") == 2);
}

TEST_CASE("mcp_methods: did-you-mean picks the closest client-to-server method") {
  CHECK(mag::config::closest_client_method("prompts/gett") == "prompts/get");
  CHECK(mag::config::closest_client_method("tools/cal") == "tools/call");
  CHECK(mag::config::closest_client_method("resource/read") == "resources/read");
  CHECK(mag::config::closest_client_method("Tools/List") == "tools/list");
  // Nothing close: no suggestion rather than a wild guess.
  CHECK(mag::config::closest_client_method("admin/x").empty());
  CHECK(mag::config::closest_client_method("").empty());
  CHECK(mag::config::method_rule_error("prompts/gett") ==
        "unknown MCP method 'prompts/gett'; did you mean 'prompts/get'?");
  CHECK(mag::config::method_rule_error("admin/x").find("unknown MCP method 'admin/x'") == 0);
}

TEST_CASE("mcp_methods: the loader refuses unknown and server-to-client method rules") {
  const std::string misspelled = load_error(with_method_rule("prompts/gett: deny"));
  CHECK(misspelled.find("gw.yaml:") == 0);
  CHECK(misspelled.find("routes[0].auth.methods.prompts/gett") != std::string::npos);
  CHECK(misspelled.find("did you mean 'prompts/get'?") != std::string::npos);

  const std::string sampling = load_error(with_method_rule("sampling/createMessage: deny"));
  CHECK(sampling.find("routes[0].auth.methods.sampling/createMessage") != std::string::npos);
  CHECK(sampling.find("the gateway does not inspect the response stream") != std::string::npos);

  // The position is the rule's key: line 16 (1-based) of the config, column 9.
  CHECK(misspelled.find("gw.yaml:16:9:") == 0);
}

TEST_CASE("mcp_methods: the loader accepts client methods and the default rule") {
  auto result = mag::config::load_string(
      with_method_rule("resources/read: [files:read]\n        \"*\": [mcp:other]\n"
                       "        logging/setLevel: deny"),
      "gw.yaml");
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& auth = result.config->routes[0].auth;
  CHECK(auth.methods.at("resources/read") == std::vector<std::string>{"files:read"});
  CHECK(auth.methods.count("*") == 1);
  CHECK(auth.denied_methods == std::vector<std::string>{"logging/setLevel"});
}

TEST_CASE("mcp_methods: config/schema.json lists the same method names as the catalogue") {
  json_error_t error;
  JsonPtr schema = json_own(json_load_file(MAG_SOURCE_DIR "/config/schema.json", 0, &error));
  REQUIRE_MESSAGE(schema, error.text);
  // The `methods` property of a route's auth, wherever it is in the schema.
  json_t* names = nullptr;
  std::vector<json_t*> stack{schema.get()};
  while (!stack.empty() && !names) {
    json_t* node = stack.back();
    stack.pop_back();
    if (json_is_object(node)) {
      json_t* methods = json_object_get(node, "methods");
      json_t* all_of = methods ? json_object_get(methods, "allOf") : nullptr;
      for (size_t i = 0; all_of && i < json_array_size(all_of); ++i) {
        json_t* property_names = json_object_get(json_array_get(all_of, i), "propertyNames");
        if (property_names) names = json_object_get(property_names, "enum");
      }
      const char* key;
      json_t* value;
      json_object_foreach(node, key, value) stack.push_back(value);
    } else if (json_is_array(node)) {
      for (size_t i = 0; i < json_array_size(node); ++i) stack.push_back(json_array_get(node, i));
    }
  }
  REQUIRE(json_is_array(names));
  std::set<std::string> in_schema;
  for (size_t i = 0; i < json_array_size(names); ++i) {
    in_schema.insert(json_string_value(json_array_get(names, i)));
  }
  std::set<std::string> expected{"*"};
  for (const auto& m : mag::config::mcp_methods()) {
    if (m.direction == MethodDirection::kClientToServer) expected.insert(std::string(m.name));
  }
  CHECK(in_schema == expected);
}
