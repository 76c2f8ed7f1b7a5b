// RFC 9728 OAuth 2.0 Protected Resource Metadata: the JSON document for a
// route, and which route's document a /.well-known path asks for.
#pragma once

#include <string>
#include <string_view>

#include "proxy/config/config.h"

namespace mag::proxy {

inline constexpr std::string_view kProtectedResourceMetadataRoot =
    "/.well-known/oauth-protected-resource";

// The document for an auth-enabled route, serialised compactly:
//   resource                  byte-equal to route.resource
//   authorization_servers     issuers of the route's providers, deduplicated, in order
//   scopes_supported          route scopes then tool scopes, deduplicated; omitted when empty
//   bearer_methods_supported  ["header"] (MCP forbids tokens in the query)
//   resource_name             when configured
// Zero-value members are omitted (RFC 9728 §3.2). "" only on allocation failure.
// (Text, not a JsonPtr: JsonPtr's deleter is jansson's static inline
// json_decref, which gives any function returning it internal linkage.)
std::string protected_resource_metadata_json(const config::Route& route,
                                             const config::Config& config);

// Which auth-enabled route's document is served at `path` (the request path
// without its query): the route's path-inserted metadata_path, or the root
// /.well-known/oauth-protected-resource, which serves the first auth-enabled
// route (in config order) unless a route's resource is origin-only, in which
// case that route owns the root. One trailing '/' is tolerated. nullptr when
// the path is not a metadata path of this config.
const config::Route* find_metadata_route(std::string_view path, const config::Config& config);

}  // namespace mag::proxy
