// The gateway process's data plane (issue 5, docs/transport.md "Workers"):
// N worker threads, each with its own event loop, its own SO_REUSEPORT
// listening socket per public listener, its own upstream pools and its own
// verified-token caches, all serving one shared, immutable Snapshot. The
// main thread (the Gateway's) runs the admin listener, the signals, the key
// providers and reloads.
#pragma once

#include <event2/event.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/core/event_loop.h"
#include "common/http/http_server.h"
#include "common/upstream/upstream_pool.h"
#include "proxy/access_log.h"
#include "proxy/authenticator.h"
#include "proxy/config.h"
#include "proxy/cors.h"
#include "proxy/origin_policy.h"
#include "proxy/session_binding.h"

namespace mag::proxy {

class AdminServer;
class Worker;

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
  // Mcp-Session-Id → principal (issue 4). The same table across reloads and
  // workers: a session may come back on another connection.
  std::shared_ptr<SessionBindings> sessions;
  // Each listener's Host/Origin allow-lists, by listener address: resolved
  // once per configuration instead of per request (issue 9).
  std::map<std::string, OriginPolicy> origin_policies;
  // Each route's token verification policies, by index in config->routes:
  // made once per configuration instead of per request (issue 9).
  std::vector<auth::RoutePolicies> route_policies;
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
};

// The loops a worker snapshot is built for.
struct WorkerLoops {
  int worker = 0;
  event_base* base = nullptr;    // the worker's
  std::shared_ptr<Mailbox> own;  // the worker's
  Mailbox* main = nullptr;       // the key providers'
};

// On the worker's thread. `previous` (may be null): the worker's current
// snapshot, whose provider views (and token caches) are kept for the
// providers a reload carried over.
std::shared_ptr<const WorkerSnapshot> build_worker_snapshot(std::shared_ptr<const Snapshot> shared,
                                                            const WorkerLoops& loops,
                                                            const WorkerSnapshot* previous);

// Transport settings of one public listener (every worker's socket of it).
http::ServerOptions server_options(const config::Listener& listener);

// `workers: N` resolved: N, or the number of cores for 0; within 1..64.
size_t effective_workers(const config::Config& config);

class Gateway {
 public:
  // `base` is the main loop (made by new_event_base()).
  Gateway(event_base* base, std::shared_ptr<const config::Config> config);
  ~Gateway();  // stops the workers (closing what is still open), then the rest
  // Starts key providers and the workers, binds every listener on every
  // worker; prints "listening on host:port" once per listener. False with a
  // reason on failure.
  bool start(std::string* error);
  // Hot reload (SIGHUP), main thread: builds the shared snapshot of
  // `config` (carrying over the key providers whose config is unchanged,
  // with their keys), binds the listeners whose address is new on every
  // worker, and only then hands the snapshot to every worker, which builds
  // its pools for it on its own thread. On failure nothing changes. Requests
  // in flight keep the snapshot they started with. `workers` is fixed at
  // start.
  bool reload(std::shared_ptr<const config::Config> config, std::string* error);
  void stop_accepting();
  // Graceful shutdown (SIGTERM): every worker stops accepting; exchanges in
  // flight finish (HTTP/1.1 with "Connection: close", HTTP/2 after GOAWAY).
  // active_connections() tells when they are done.
  void drain();
  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_; }
  // 0 when the admin listener is disabled (or its default address was taken).
  uint16_t admin_port() const;
  // Summed over the workers (asks each one on its loop).
  size_t active_connections() const;
  size_t worker_count() const { return workers_.size(); }

 private:
  std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                                 std::vector<auth::KeyProvider*>* to_start,
                                                 std::string* error);
  std::shared_ptr<const Snapshot> publish(std::unique_ptr<Snapshot> snapshot);
  bool bind_new_listeners(const config::Config& config, std::map<std::string, uint16_t>* added,
                          std::string* error);
  bool make_admin(const config::Config& config, std::unique_ptr<AdminServer>* admin,
                  std::string* error);
  void update_worker_gauges();

  event_base* base_;
  std::thread::id main_thread_;
  std::shared_ptr<Mailbox> main_loop_;  // workers post here (snapshot release, key waits)
  std::shared_ptr<const config::Config> initial_config_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Public listeners by configured address → the port every worker bound
  // (the actual one for ":0").
  std::map<std::string, uint16_t> listeners_;
  std::unique_ptr<AdminServer> admin_;
  std::string admin_address_;
};

}  // namespace mag::proxy
