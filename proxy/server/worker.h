// One worker thread of the gateway (docs/transport.md "Workers"):
// its own event loop, its own SO_REUSEPORT socket per public listener, its
// own WorkerSnapshot (upstream pools, token caches). Everything inside is
// touched only on the worker's thread: the public methods are called by the
// Gateway on the main thread and run on the worker's loop (LoopThread::
// run_sync), so the two never share a libevent base.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/core/event_loop.h"
#include "common/http/http_server.h"
#include "proxy/server/gateway.h"
#include "proxy/telemetry/metrics.h"

namespace mag::proxy {

class Worker {
 public:
  Worker(int id, std::shared_ptr<Mailbox> main_loop);
  ~Worker();  // stop()
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool ok() const { return loop_.ok(); }
  int id() const { return id_; }
  void start();

  // Binds `bind_address` for the listener `listener.address` (staged: it
  // accepts only after commit()). `port` gets the bound port.
  bool bind(const config::Listener& listener, const std::string& bind_address, uint16_t* port,
            std::string* error);
  void discard_staged();
  bool reload_tls(const config::Listener& listener, std::string* error);
  // Listeners absent from the snapshot's config stop accepting (their open
  // connections finish), staged ones start, new requests get the snapshot.
  void commit(std::shared_ptr<const Snapshot> snapshot);
  void stop_accepting();
  void drain();
  size_t active_connections();
  // Sets this worker's gauges (pools, token caches) in its metrics shard.
  void update_scrape_gauges();
  // Closes everything (handlers get on_reset) on the worker's thread and
  // ends the thread.
  void stop();

 private:
  using ServerMap = std::map<std::string, std::unique_ptr<http::HttpServer>>;
  std::unique_ptr<http::HttpServer> make_server(const config::Listener& listener);

  const int id_;
  std::shared_ptr<Mailbox> main_loop_;
  metrics::Registry& shard_;
  // mag_worker_requests_total{worker="<id_>"} in shard_, found once.
  const metrics::Registry::Handle requests_series_;
  LoopThread loop_;
  // The worker's thread only:
  ServerMap servers_;  // by configured listener address
  ServerMap staged_;
  std::vector<std::unique_ptr<http::HttpServer>> retired_;  // removed by a reload; finishing
  std::shared_ptr<const WorkerSnapshot> current_;
};

}  // namespace mag::proxy
