// The state a request runs against: the shared Snapshot a (re)load builds on
// the main thread, and each worker's WorkerSnapshot built from it.
#pragma once

#include <event2/event.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/event_loop.h"
#include "common/upstream/upstream_pool.h"
#include "proxy/auth/authenticator.h"
#include "proxy/config/config.h"
#include "proxy/credentials/client_credentials_source.h"
#include "proxy/credentials/token_exchanger.h"
#include "proxy/credentials/token_view.h"
#include "proxy/mcp/session_binding.h"
#include "proxy/router/cors.h"
#include "proxy/router/origin_policy.h"
#include "proxy/server/compiled_route.h"
#include "proxy/telemetry/access_log.h"

namespace mag::proxy {

// Built on the main thread by a (re)load, then shared read-only by every
// worker. Everything reachable from it is immutable or thread-safe (key
// providers publish their keys atomically; the access-log sink and the
// session table lock internally). Always released on the main thread (the
// Gateway's deleter posts it there): its key providers own main-loop events.
struct Snapshot {
  std::shared_ptr<const config::Config> config;
  auth::KeyProviderMap providers;  // run on the main loop
  CorsPolicy cors;
  std::shared_ptr<AccessLogSink> access_log;  // null when `access_log: off`
  // Mcp-Session-Id → principal. The same table across reloads and
  // workers: a session may come back on another connection.
  std::shared_ptr<SessionBindings> sessions;
  // Each listener's Host/Origin allow-lists, by listener address: resolved
  // once per configuration instead of per request.
  std::map<std::string, OriginPolicy> origin_policies;
  // Each route's token verification policies, by index in config->routes:
  // made once per configuration instead of per request.
  std::vector<auth::RoutePolicies> route_policies;
  // The upstreams' OAuth token sources, by upstream name (run on the main
  // loop, like the key providers; carried over a reload with their cached
  // tokens when the upstream's credentials are unchanged).
  std::map<std::string, std::shared_ptr<credentials::ClientCredentialsSource>> client_credentials;
  std::map<std::string, std::shared_ptr<credentials::TokenExchanger>> token_exchangers;
};

// What one request runs against: the shared snapshot plus what belongs to
// the worker serving it. Built and used on that worker's thread only; a
// request keeps the one it started with even if the config is reloaded.
struct WorkerSnapshot {
  std::shared_ptr<const Snapshot> shared;  // declared first: released last
  int worker = 0;
  // The shared members, repeated for brevity at the use sites.
  std::shared_ptr<const config::Config> config;
  CorsPolicy cors;
  std::shared_ptr<AccessLogSink> access_log;
  std::shared_ptr<SessionBindings> sessions;
  // Per worker: views of the providers (each with this worker's token
  // cache) and upstream pools (on this worker's loop).
  auth::ProviderMap providers;
  std::map<std::string, std::shared_ptr<http::UpstreamPool>> pools;
  // This worker's views of the upstreams' token sources, by upstream name.
  std::map<std::string, std::shared_ptr<credentials::TokenView>> tokens;
  // One per config->routes entry, in the same order.
  std::vector<CompiledRoute> routes;

  // The route serving `path` (longest prefix by whole segments); nullptr
  // when none does.
  const CompiledRoute* find_route(std::string_view path) const;
};

// The loops a worker snapshot is built for.
struct WorkerLoops {
  int worker = 0;
  event_base* base = nullptr;    // the worker's
  std::shared_ptr<Mailbox> own;  // the worker's
  Mailbox* main = nullptr;       // the key providers'
};

}  // namespace mag::proxy
