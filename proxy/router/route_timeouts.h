// A route's `timeouts:` (docs/configuration.md) as the upstream pool's
// per-request overrides, made once per config snapshot for the compiled route.
#pragma once

#include "common/upstream/upstream_pool.h"
#include "proxy/config/config.h"

namespace mag::proxy {

// connect / response-header / idle timeouts of `route`, unset where the
// route keeps its upstream's; no endpoint chosen.
http::StartOptions start_options(const config::Route& route);

}  // namespace mag::proxy
