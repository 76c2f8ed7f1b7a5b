// The gateway process's data plane: listeners, and the immutable snapshot
// (config, key providers, upstream pools) each request runs against.
#pragma once

#include <event2/event.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "common/upstream_pool.h"
#include "proxy/access_log.h"
#include "proxy/authenticator.h"
#include "proxy/config.h"
#include "proxy/cors.h"
#include "proxy/session_binding.h"

namespace mag::proxy {

class AdminServer;

// What one request needs, fixed for its whole life: a request keeps the
// snapshot it started with even if the config is reloaded meanwhile.
struct Snapshot {
  std::shared_ptr<const config::Config> config;
  auth::ProviderMap providers;
  std::map<std::string, std::shared_ptr<http::UpstreamPool>> pools;
  CorsPolicy cors;
  std::shared_ptr<AccessLogSink> access_log;  // null when `access_log: off`
  // Mcp-Session-Id → principal (issue 4). The same table across reloads.
  std::shared_ptr<SessionBindings> sessions;
};

class Gateway {
 public:
  Gateway(event_base* base, std::shared_ptr<const config::Config> config);
  ~Gateway();
  // Starts key providers and binds every listener; prints "listening on
  // host:port" per listener. False with a reason on failure.
  bool start(std::string* error);
  // Hot reload (SIGHUP): builds a snapshot of `config`, binds the listeners
  // whose address is new, stops accepting on those that are gone, and only
  // then swaps the snapshot. On failure nothing changes: the old config
  // keeps serving. Listeners whose address did not change keep their
  // sockets; requests in flight keep the snapshot they started with.
  bool reload(std::shared_ptr<const config::Config> config, std::string* error);
  void stop_accepting();
  // Graceful shutdown (SIGTERM): stop accepting; exchanges in flight finish
  // (HTTP/1.1 with "Connection: close", HTTP/2 after GOAWAY). active_connections()
  // tells when they are done.
  void drain();
  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_; }
  // 0 when the admin listener is disabled (or its default address was taken).
  uint16_t admin_port() const;
  size_t active_connections() const;

 private:
  using ServerMap = std::map<std::string, std::unique_ptr<http::HttpServer>>;
  bool bind_new_listeners(const config::Config& config, ServerMap* added, std::string* error);
  bool make_admin(const config::Config& config, std::unique_ptr<AdminServer>* admin,
                  std::string* error);

  event_base* base_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::string build_error_;  // why the constructor's snapshot is null
  ServerMap servers_;        // by listener address
  // Listeners a reload removed: no longer accepting; their open connections
  // run to completion.
  std::vector<std::unique_ptr<http::HttpServer>> retired_;
  std::unique_ptr<AdminServer> admin_;
  std::string admin_address_;
};

}  // namespace mag::proxy
