#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "proxy/mcp/resource_rules.h"

using mag::config::RouteAuth;
using mag::mcp::resource_rule_key;
using mag::mcp::resource_rule_may_match;

TEST_CASE("resource_rules: exact key, then the longest pattern, then '*'") {
  RouteAuth auth;
  auth.resources = {{"a://x", {}}, {"a://*", {}}, {"a://x*", {}}, {"*", {}}};
  auth.denied_resources = {"a://x/y*"};
  CHECK(resource_rule_key(auth, "a://x") == std::optional<std::string>("a://x"));
  CHECK(resource_rule_key(auth, "a://xz") == std::optional<std::string>("a://x*"));
  CHECK(resource_rule_key(auth, "a://x/y/z") == std::optional<std::string>("a://x/y*"));
  CHECK(resource_rule_key(auth, "a://b") == std::optional<std::string>("a://*"));
  CHECK(resource_rule_key(auth, "b://") == std::optional<std::string>("*"));
  CHECK(resource_rule_key(auth, "") == std::optional<std::string>("*"));
  auth.resources.erase("*");
  CHECK_FALSE(resource_rule_key(auth, "b://"));
  // Matching is by bytes: no case folding, no decoding.
  CHECK_FALSE(resource_rule_key(auth, "A://x"));
  CHECK(resource_rule_key(auth, "a://%78") == std::optional<std::string>("a://*"));
}

TEST_CASE("resource_rules: which rules a template's literal prefix may reach") {
  CHECK(resource_rule_may_match("*", "anything://"));
  CHECK(resource_rule_may_match("*", ""));
  CHECK(resource_rule_may_match("a://x/*", "a://"));  // pattern inside the template
  CHECK(resource_rule_may_match("a://*", "a://x/"));  // template inside the pattern
  CHECK_FALSE(resource_rule_may_match("a://y*", "a://x/"));
  CHECK(resource_rule_may_match("a://x/1", "a://x/"));  // exact URI the template may produce
  CHECK_FALSE(resource_rule_may_match("a://x", "a://x/"));
  CHECK_FALSE(resource_rule_may_match("b://x/1", "a://"));
}
