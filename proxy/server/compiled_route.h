// One route as a request runs it, prepared once with the worker's snapshot:
// the route's configuration, its upstream's configuration and this worker's
// pool of it, its token verification policies and its upstream start
// options and its upstream's token source. The route lookup hands it to the request stream, which
// then needs no index arithmetic and no lookups by name.
#pragma once

#include <memory>

#include "common/upstream/upstream_pool.h"
#include "proxy/auth/authenticator.h"
#include "proxy/config/config.h"
#include "proxy/credentials/token_view.h"

namespace mag::proxy {

struct CompiledRoute {
  const config::Route* config = nullptr;
  const config::Upstream* upstream = nullptr;
  std::shared_ptr<http::UpstreamPool> pool;  // this worker's
  const auth::RoutePolicies* policies = nullptr;
  http::StartOptions start;  // the route's timeouts; no endpoint chosen
  // The upstream's OAuth token source (this worker's view of it); null when
  // the upstream has no client_credentials / token_exchange.
  credentials::TokenView* tokens = nullptr;
};

}  // namespace mag::proxy
