// Maps a request path to its route. Matching is on path segments ("/mcp"
// matches "/mcp" and "/mcp/x", never "/mcp2"), longest prefix first, and only
// on paths that cannot mean something else to the upstream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"

namespace mag::proxy {

// False for paths whose meaning depends on normalisation (dot segments,
// encoded '.', '/', '\' or NUL, empty segments, backslashes): rather than
// guess how the upstream normalises, such requests are refused (400) before
// any rule is matched.
bool path_is_canonical(std::string_view path);

// True when `path` is under `prefix` by whole segments ("/mcp" holds "/mcp"
// and "/mcp/x", never "/mcp2"; a prefix ending in '/' holds what follows it).
bool path_under_prefix(std::string_view path, std::string_view prefix);

// The element of `routes` with the longest prefix (`prefix_of(element)`)
// that `path` is under; nullptr when there is none.
template <typename Route, typename PrefixOf>
const Route* find_route(const std::vector<Route>& routes, std::string_view path,
                        PrefixOf prefix_of) {
  const Route* best = nullptr;
  size_t best_length = 0;
  for (const Route& route : routes) {
    const std::string& prefix = prefix_of(route);
    if (!path_under_prefix(path, prefix)) continue;
    if (!best || prefix.size() > best_length) {
      best = &route;
      best_length = prefix.size();
    }
  }
  return best;
}

// nullptr when no route matches.
const config::Route* find_route(const config::Config& config, std::string_view path);

}  // namespace mag::proxy
