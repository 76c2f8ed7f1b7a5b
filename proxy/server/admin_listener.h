// The operator's listener that the Gateway runs on the main loop beside the
// public ones: it binds it at start, rebinds it when a reload changes its
// address and stops it on drain. What it serves is above the server
// (proxy/admin/admin_server.h); the Gateway gets a factory for it from
// main(), so the server does not depend on the admin endpoints.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "proxy/config/config.h"
#include "proxy/server/snapshot.h"

namespace mag::proxy {

// What the admin endpoints read, at request time.
struct AdminContext {
  std::function<std::shared_ptr<const Snapshot>()> snapshot;
  std::function<size_t()> active_connections;  // on the public listeners, all workers
  // Has every worker set its scrape-time gauges (pools, token caches) in its
  // metrics shard; called before a scrape renders. May be empty.
  std::function<void()> update_worker_gauges;
};

class AdminListener {
 public:
  virtual ~AdminListener() = default;
  virtual bool listen(const std::string& address, std::string* error) = 0;
  virtual uint16_t port() const = 0;
  virtual void stop_accepting() = 0;
};

using AdminListenerFactory =
    std::function<std::unique_ptr<AdminListener>(event_base* base, AdminContext context)>;

inline constexpr const char* kDefaultAdminAddress = "127.0.0.1:9901";
// The admin address the gateway binds: the configured one ("" = disabled),
// else kDefaultAdminAddress.
inline std::string effective_admin_address(const config::Admin& admin) {
  return admin.address_configured ? admin.address : kDefaultAdminAddress;
}

}  // namespace mag::proxy
