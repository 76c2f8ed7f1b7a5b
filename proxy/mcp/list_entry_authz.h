// Which entries of a list answer a token may see: those it could use with
// the method the entry is for (proxy/mcp/list_kind.h), by the same rules
// that authorize that method (proxy/mcp/mcp_authz.h).
//
// - tools/list: a tool the token may tools/call;
// - prompts/list: a prompt it may prompts/get;
// - resources/list: a resource whose uri it may resources/read;
// - resources/templates/list: a template only when it may read every URI
//   the template could produce. Approximated conservatively from the
//   template's literal prefix (its text before the first `{`): hidden when
//   resources/read is refused outright, or when any resource rule the token
//   does not satisfy (a deny, or scopes it lacks) could govern a URI that
//   starts with that prefix. A template without `{` is one URI, judged as
//   a resource.
#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/mcp/list_kind.h"

namespace mag::mcp {

bool list_entry_allowed(const config::RouteAuth& auth, const std::vector<std::string>& token_scopes,
                        ListKind kind, const std::string& key);

// True when some entry of a `kind` list could be hidden from some token:
// the route has per-name rules for its entries, or a `methods` rule (or
// the "*" method default) for the method the entries are for.
bool may_filter_list(const config::RouteAuth& auth, ListKind kind);

}  // namespace mag::mcp
