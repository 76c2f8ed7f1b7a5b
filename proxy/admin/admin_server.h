// The admin interface: a separate HttpServer (default 127.0.0.1:9901, never
// a public listener) for operators and their tooling.
//
//   GET /healthz            200 while the process runs
//   GET /ready              200 when the config is loaded and every provider a
//                           route uses has keys (and, with
//                           admin.ready_checks_upstreams, every upstream a route
//                           uses accepts connections); 503 otherwise; JSON says why
//   GET /stats/prometheus   metrics, Prometheus text format 0.0.4
//   GET /config_dump        the running config as JSON, secrets redacted
//                           (proxy/admin/config_dump.h)
//   GET /jwks_status        per provider: key ids, last fetch, next refresh
//
// Every endpoint reads the current Snapshot at request time, so a reload is
// visible at once. Runs on the main thread; /stats/prometheus merges the
// metrics shards of every worker (proxy/telemetry/metrics.h).
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/http_server.h"
#include "proxy/admin/upstream_health.h"
#include "proxy/server/admin_listener.h"
#include "proxy/server/snapshot.h"

namespace mag::proxy {

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// The whole admin API as a pure function of the request and the state (the
// server below only frames it); `path` is without the query. `health`: the
// upstream probes /ready reads when the config asks for them (null = none).
AdminResponse handle_admin_request(std::string_view method, std::string_view path,
                                   const AdminContext& context,
                                   const UpstreamHealth* health = nullptr);

std::string readiness_json(const Snapshot& snapshot, bool* ready,
                           const UpstreamHealth* health = nullptr);
std::string jwks_status_json(const Snapshot& snapshot);
// Recomputes the main thread's gauges that are read from state rather than
// counted (providers, connection total); the workers' own are set by
// AdminContext::update_worker_gauges.
void update_scrape_gauges(const Snapshot& snapshot, size_t active_connections);

class AdminServer : public AdminListener {
 public:
  AdminServer(event_base* base, AdminContext context);
  bool listen(const std::string& address, std::string* error) override;
  uint16_t port() const override { return server_.port(); }
  void stop_accepting() override;

 private:
  AdminContext context_;
  UpstreamHealth health_;
  http::HttpServer server_;
};

}  // namespace mag::proxy
