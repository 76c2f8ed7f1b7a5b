// The `resources:` rules of a route (config::RouteAuth::resources and
// denied_resources) by URI. A key is an exact URI, or a pattern: a URI
// prefix followed by `*` ("*" alone is the default, the empty prefix). The
// exact key equal to the URI wins; otherwise the longest pattern whose
// prefix starts the URI; otherwise no rule applies.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

namespace mag::mcp {

// The key of the rule that governs `uri`, or nullopt.
std::optional<std::string> resource_rule_key(const config::RouteAuth& auth, std::string_view uri);

// Every key of the route's resource rules, scoped and denied.
std::vector<std::string> resource_rule_keys(const config::RouteAuth& auth);

// Could the rule `key` govern some URI that starts with `literal_prefix`
// (a URI template's text before its first `{`)? An exact key when it
// starts with the prefix; a pattern when one of the two prefixes starts
// the other. Conservative: a URI the rule does not govern after all (a
// longer key wins it) still counts.
bool resource_rule_may_match(std::string_view key, std::string_view literal_prefix);

}  // namespace mag::mcp
