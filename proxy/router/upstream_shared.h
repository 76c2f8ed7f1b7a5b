// The per-upstream object every worker's UpstreamPool of one upstream holds
// (common/upstream/upstream_endpoints.h: endpoint list, round-robin, passive health,
// Mcp-Session-Id affinity). One per upstream per config snapshot; a reload
// that keeps an upstream's name and endpoints gets the same object back, so
// sessions keep their endpoint across SIGHUP.
#pragma once

#include <memory>

#include "common/upstream/upstream_endpoints.h"
#include "proxy/config/config.h"

namespace mag::proxy {

// The object for `upstream` of `config`: the live one when an upstream of the
// same name and endpoints still exists (its affinity limits are updated from
// `config.authz`), else a new one. Thread-safe; meant for config load time.
std::shared_ptr<http::UpstreamEndpoints> shared_upstream(const config::Config& config,
                                                         const config::Upstream& upstream);

}  // namespace mag::proxy
