// Maps a request path to its route. Matching is on path segments ("/mcp"
// matches "/mcp" and "/mcp/x", never "/mcp2"), longest prefix first, and only
// on paths that cannot mean something else to the upstream.
#pragma once

#include <string_view>

#include "proxy/config/config.h"

namespace mag::proxy {

// False for paths whose meaning depends on normalisation (dot segments,
// encoded '.', '/', '\' or NUL, empty segments, backslashes): rather than
// guess how the upstream normalises, such requests are refused (400) before
// any rule is matched.
bool path_is_canonical(std::string_view path);

// nullptr when no route matches.
const config::Route* find_route(const config::Config& config, std::string_view path);

}  // namespace mag::proxy
