#include "proxy/gateway.h"

#include <algorithm>
#include <cstdio>

#include "common/log.h"
#include "proxy/admin_server.h"
#include "proxy/proxy_stream.h"

namespace mag::proxy {
namespace {

// Transport limits of one upstream (issue 5).
http::PoolOptions pool_options(const config::Upstream& upstream) {
  http::PoolOptions options;
  options.max_connections = upstream.max_connections;
  options.connect_timeout = upstream.connect_timeout;
  options.response_header_timeout = upstream.response_header_timeout;
  options.idle_timeout = upstream.idle_timeout;
  return options;
}

// Null (with `error`) when the access log cannot be opened.
std::shared_ptr<const Snapshot> build_snapshot(
    event_base* base, std::shared_ptr<const config::Config> config, std::string* error,
    std::shared_ptr<SessionBindings> sessions = nullptr) {
  auto snapshot = std::make_shared<Snapshot>();
  if (config->access_log.enabled) {
    snapshot->access_log = AccessLogSink::open(
        config->access_log.path,
        config->access_log.format == "text" ? AccessLogFormat::kText : AccessLogFormat::kJson,
        error);
    if (!snapshot->access_log) return nullptr;
  }
  for (const auto& [name, provider] : config->providers) {
    snapshot->providers.emplace(name, auth::KeyProvider::create(base, provider));
  }
  for (const auto& [name, upstream] : config->upstreams) {
    snapshot->pools.emplace(
        name, std::make_shared<http::UpstreamPool>(base, upstream.host, upstream.port,
                                                   pool_options(upstream)));
  }
  snapshot->cors.allowed_origins = config->cors.allowed_origins;
  if (sessions) {
    sessions->set_limits(config->authz.max_sessions, config->authz.session_idle_timeout);
  } else {
    sessions = std::make_shared<SessionBindings>(config->authz.max_sessions,
                                                 config->authz.session_idle_timeout);
  }
  snapshot->sessions = std::move(sessions);
  snapshot->config = std::move(config);
  return snapshot;
}

// Transport settings of one listener (TLS termination; issue 5).
http::ServerOptions server_options(const config::Listener& listener) {
  http::ServerOptions options;
  options.tls_certificate = listener.tls_certificate;
  options.tls_private_key = listener.tls_private_key;
  return options;
}

void start_providers(const Snapshot& snapshot) {
  for (const auto& [name, provider] : snapshot.providers) provider->start();
}

}  // namespace

Gateway::Gateway(event_base* base, std::shared_ptr<const config::Config> config)
    : base_(base), snapshot_(build_snapshot(base, std::move(config), &build_error_)) {}

Gateway::~Gateway() = default;

bool Gateway::bind_new_listeners(const config::Config& config, ServerMap* added,
                                 std::string* error) {
  for (const auto& listener : config.listeners) {
    if (servers_.count(listener.address) || added->count(listener.address)) continue;
    // The factory reads the snapshot current when a request starts: that is
    // what makes a reload visible on sockets that were never re-bound.
    auto server = std::make_unique<http::HttpServer>(
        base_,
        [this, address = listener.address](
            http::ServerStream& stream) -> std::unique_ptr<http::ServerStreamHandler> {
          auto handler = std::make_unique<ProxyStream>(stream, snapshot_);
          handler->set_listener(address);  // its Origin/Host allow-lists (issue 4)
          return handler;
        },
        server_options(listener));
    if (!server->listen(listener.address, error)) {
      *error = "listener " + listener.address + ": " + *error;
      return false;
    }
    std::string host;
    uint16_t port = 0;
    http::split_host_port(listener.address, &host, &port);
    // Tests and scripts read the bound port from this line.
    fprintf(stderr, "listening on %s:%u\n", host.c_str(), static_cast<unsigned>(server->port()));
    fflush(stderr);
    added->emplace(listener.address, std::move(server));
  }
  return true;
}

bool Gateway::make_admin(const config::Config& config, std::unique_ptr<AdminServer>* admin,
                         std::string* error) {
  const std::string address = effective_admin_address(config.admin);
  if (address.empty()) return true;
  AdminContext context;
  context.snapshot = [this] { return snapshot_; };
  context.active_connections = [this] { return active_connections(); };
  auto server = std::make_unique<AdminServer>(base_, std::move(context));
  if (!server->listen(address, error)) {
    if (!config.admin.address_configured) {
      // The default address is a convenience; a second gateway on the same
      // host must still start.
      log::warn("admin", "default admin address " + address + " unavailable (" + *error +
                             "); admin interface disabled");
      error->clear();
      return true;
    }
    *error = "admin listener " + address + ": " + *error;
    return false;
  }
  std::string host;
  uint16_t port = 0;
  http::split_host_port(address, &host, &port);
  // Deliberately not "listening on ...": scripts take that line for the public port.
  fprintf(stderr, "admin interface on %s:%u\n", host.c_str(),
          static_cast<unsigned>(server->port()));
  fflush(stderr);
  *admin = std::move(server);
  return true;
}

bool Gateway::start(std::string* error) {
  if (!snapshot_) {
    *error = build_error_;
    return false;
  }
  start_providers(*snapshot_);
  ServerMap added;
  if (!bind_new_listeners(*snapshot_->config, &added, error)) return false;
  servers_ = std::move(added);
  if (!make_admin(*snapshot_->config, &admin_, error)) return false;
  admin_address_ = effective_admin_address(snapshot_->config->admin);
  return true;
}

bool Gateway::reload(std::shared_ptr<const config::Config> config, std::string* error) {
  // Session bindings outlive a reload: clients keep their sessions.
  auto next =
      build_snapshot(base_, std::move(config), error, snapshot_ ? snapshot_->sessions : nullptr);
  if (!next) return false;

  ServerMap added;
  if (!bind_new_listeners(*next->config, &added, error)) return false;
  std::unique_ptr<AdminServer> new_admin;
  const bool admin_changed = effective_admin_address(next->config->admin) != admin_address_;
  // The new admin address is bound while the old one still listens, so a
  // failure leaves the old one in place.
  if (admin_changed && !make_admin(*next->config, &new_admin, error)) return false;
  // TLS certificates of the listeners that stay are re-read (rotation).
  for (const auto& listener : next->config->listeners) {
    auto kept = servers_.find(listener.address);
    if (kept == servers_.end()) continue;
    if (!kept->second->reload_tls(listener.tls_certificate, listener.tls_private_key, error)) {
      *error = "listener " + listener.address + ": " + *error;
      return false;
    }
  }
  // Commit: nothing below can fail.
  for (auto it = servers_.begin(); it != servers_.end();) {
    const bool kept =
        std::any_of(next->config->listeners.begin(), next->config->listeners.end(),
                    [&](const config::Listener& l) { return l.address == it->first; });
    if (kept) {
      ++it;
      continue;
    }
    log::info("reload", "listener " + it->first + " removed: no longer accepting");
    it->second->stop_accepting();
    retired_.push_back(std::move(it->second));
    it = servers_.erase(it);
  }
  for (auto& [address, server] : added) servers_.emplace(address, std::move(server));
  if (admin_changed) {
    admin_ = std::move(new_admin);
    admin_address_ = effective_admin_address(next->config->admin);
  }
  start_providers(*next);
  snapshot_ = std::move(next);
  return true;
}

void Gateway::stop_accepting() {
  for (auto& [address, server] : servers_) server->stop_accepting();
  if (admin_) admin_->stop_accepting();
}

void Gateway::drain() {
  for (auto& [address, server] : servers_) server->drain();
  for (auto& server : retired_) server->drain();
  if (admin_) admin_->stop_accepting();
}

uint16_t Gateway::admin_port() const {
  return admin_ ? admin_->port() : 0;
}

size_t Gateway::active_connections() const {
  size_t total = 0;
  for (const auto& [address, server] : servers_) total += server->active_connections();
  for (const auto& server : retired_) total += server->active_connections();
  return total;
}

}  // namespace mag::proxy
