// The gateway process's data plane (docs/transport.md "Workers"):
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
#include "proxy/config/config.h"
#include "proxy/server/admin_listener.h"
#include "proxy/server/snapshot.h"

namespace mag::proxy {

class Worker;

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
  // `base` is the main loop (made by new_event_base()). `make_admin` makes
  // the admin listener (proxy/admin/admin_server.h); it may be empty, then
  // there is none.
  Gateway(event_base* base, std::shared_ptr<const config::Config> config,
          AdminListenerFactory make_admin);
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
  void make_token_sources(const config::Config& config, Snapshot* snapshot) const;
  std::shared_ptr<const Snapshot> publish(std::unique_ptr<Snapshot> snapshot);
  bool bind_new_listeners(const config::Config& config, std::map<std::string, uint16_t>* added,
                          std::string* error);
  bool make_admin(const config::Config& config, std::unique_ptr<AdminListener>* admin,
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
  AdminListenerFactory make_admin_;
  std::unique_ptr<AdminListener> admin_;
  std::string admin_address_;
};

}  // namespace mag::proxy
