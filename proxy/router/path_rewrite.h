// The path an upstream receives for a request of a route. The route's
// `prefix_rewrite`, when set, takes the place of its `path_prefix` (Envoy's
// name and rule), so servers that each serve `/mcp` can sit behind `/a` and
// `/b`; the upstream url's base path then goes in front:
//
//   path_prefix /a, prefix_rewrite /mcp:  /a → /mcp, /a/x → /mcp/x
//   path_prefix /a, prefix_rewrite /:     /a → /,    /a/x → /x
//   path_prefix /,  prefix_rewrite /mcp:  /  → /mcp, /x   → /mcp/x
//   no prefix_rewrite:                    the path unchanged
//
// The request path has passed path_is_canonical and path_under_prefix
// (route_table.h), so the part after the prefix has no dot segments or
// encoded separators that could climb out of the rewritten prefix.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/config/config.h"

namespace mag::proxy {

// `path` matched by `path_prefix`; `rewrite` is the route's prefix_rewrite.
std::string rewrite_prefix(std::string_view path, std::string_view path_prefix,
                           const std::optional<std::string>& rewrite);

// The upstream's base path followed by the rewritten path.
std::string upstream_path(const config::Route& route, const config::Upstream& upstream,
                          std::string_view path);

}  // namespace mag::proxy
