#include "proxy/server/gateway.h"

#include <algorithm>
#include <cstdio>

#include "common/core/log.h"
#include "proxy/credentials/same_credentials.h"
#include "proxy/router/route_timeouts.h"
#include "proxy/router/upstream_affinity.h"
#include "proxy/router/upstream_shared.h"
#include "proxy/server/proxy_stream.h"
#include "proxy/server/worker.h"

namespace mag::proxy {
namespace {

constexpr size_t kMaxWorkers = 64;

// Transport limits of one upstream.
http::PoolOptions pool_options(const config::Upstream& upstream) {
  http::PoolOptions options;
  options.max_connections = upstream.max_connections;
  options.connect_timeout = upstream.connect_timeout;
  options.response_header_timeout = upstream.response_header_timeout;
  options.idle_timeout = upstream.idle_timeout;
  options.tls = upstream.tls_context;  // https:// upstreams; built at load
  return options;
}

// One worker's pool of one upstream, on that worker's loop. The endpoint
// state (round-robin, health, affinity) is shared by every worker's pool.
std::shared_ptr<http::UpstreamPool> make_pool(event_base* base, const config::Config& config,
                                              const config::Upstream& upstream) {
  return std::make_shared<http::UpstreamPool>(base, shared_upstream(config, upstream),
                                              pool_options(upstream));
}

void print_listening(const std::string& address, uint16_t port) {
  std::string host;
  uint16_t configured = 0;
  http::split_host_port(address, &host, &configured);
  // Tests and scripts read the bound port from this line.
  fprintf(stderr, "listening on %s:%u\n", host.c_str(), static_cast<unsigned>(port));
  fflush(stderr);
}

}  // namespace

http::ServerOptions server_options(const config::Listener& listener) {
  http::ServerOptions options;
  options.tls_certificate = listener.tls_certificate;
  options.tls_private_key = listener.tls_private_key;
  options.request_body_timeout = listener.request_body_timeout;
  return options;
}

size_t effective_workers(const config::Config& config) {
  size_t n = config.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  return std::min(n, kMaxWorkers);
}

std::shared_ptr<const WorkerSnapshot> build_worker_snapshot(std::shared_ptr<const Snapshot> shared,
                                                            const WorkerLoops& loops,
                                                            const WorkerSnapshot* previous) {
  auto snapshot = std::make_shared<WorkerSnapshot>();
  snapshot->worker = loops.worker;
  snapshot->config = shared->config;
  snapshot->cors = shared->cors;
  snapshot->access_log = shared->access_log;
  snapshot->sessions = shared->sessions;
  for (const auto& [name, provider] : shared->providers) {
    // A provider carried over by the reload keeps this worker's view, and
    // with it the tokens this worker has already verified.
    if (previous) {
      auto it = previous->providers.find(name);
      if (it != previous->providers.end() && it->second->provider() == provider) {
        snapshot->providers.emplace(name, it->second);
        continue;
      }
    }
    auth::TokenCacheLimits limits;
    limits.max_entries = provider->config().token_cache_size;
    snapshot->providers.emplace(
        name, std::make_shared<auth::ProviderView>(provider, loops.main, loops.own, limits));
  }
  for (const auto& [name, upstream] : shared->config->upstreams) {
    snapshot->pools.emplace(name, make_pool(loops.base, *shared->config, upstream));
  }
  for (const auto& [name, source] : shared->client_credentials) {
    snapshot->tokens.emplace(
        name, std::make_shared<credentials::TokenView>(source, nullptr, loops.main, loops.own));
  }
  for (const auto& [name, exchanger] : shared->token_exchangers) {
    snapshot->tokens.emplace(
        name, std::make_shared<credentials::TokenView>(nullptr, exchanger, loops.main, loops.own));
  }
  const auto& routes = shared->config->routes;
  for (size_t i = 0; i < routes.size(); ++i) {
    CompiledRoute route;
    route.config = &routes[i];
    route.upstream = &shared->config->upstreams.at(routes[i].upstream);
    route.pool = snapshot->pools.at(routes[i].upstream);
    route.policies = &shared->route_policies.at(i);
    route.start = start_options(routes[i]);
    if (auto tokens = snapshot->tokens.find(routes[i].upstream); tokens != snapshot->tokens.end()) {
      route.tokens = tokens->second.get();
    }
    snapshot->routes.push_back(std::move(route));
  }
  snapshot->shared = std::move(shared);
  return snapshot;
}

Gateway::Gateway(event_base* base, std::shared_ptr<const config::Config> config,
                 AdminListenerFactory make_admin)
    : base_(base),
      main_thread_(std::this_thread::get_id()),
      main_loop_(std::make_shared<Mailbox>(base)),
      initial_config_(std::move(config)),
      make_admin_(std::move(make_admin)) {}

Gateway::~Gateway() {
  // Workers first: their requests and snapshots go on their own threads;
  // the shared snapshots they release come back here through main_loop_.
  for (auto& worker : workers_) worker->stop();
  workers_.clear();
  main_loop_->run_pending();
  admin_.reset();
  snapshot_.reset();
}

std::shared_ptr<const Snapshot> Gateway::publish(std::unique_ptr<Snapshot> snapshot) {
  std::weak_ptr<Mailbox> main_loop = main_loop_;
  const std::thread::id main_thread = main_thread_;
  return std::shared_ptr<const Snapshot>(snapshot.release(),
                                         [main_loop, main_thread](const Snapshot* released) {
                                           std::shared_ptr<const Snapshot> owned(released);
                                           if (std::this_thread::get_id() == main_thread) return;
                                           // A worker let go last: its key providers' events belong
                                           // to the main loop, so the snapshot is destroyed there.
                                           if (auto loop = main_loop.lock()) loop->post([owned] {});
                                         });
}

std::shared_ptr<const Snapshot> Gateway::build_snapshot(
    std::shared_ptr<const config::Config> config, std::vector<auth::KeyProvider*>* to_start,
    std::string* error) {
  auto snapshot = std::make_unique<Snapshot>();
  if (config->access_log.enabled) {
    snapshot->access_log = AccessLogSink::open(
        config->access_log.path,
        config->access_log.format == "text" ? AccessLogFormat::kText : AccessLogFormat::kJson,
        error);
    if (!snapshot->access_log) return nullptr;
    AccessLogIdentity identity;
    if (!AccessLogIdentity::from_config(config->access_log, &identity, error)) return nullptr;
    snapshot->access_log->set_identity(std::move(identity));
  }
  for (const auto& [name, provider] : config->providers) {
    // A provider whose config did not change is carried over with
    // its keys, its refresh schedule and its status, so a reload neither
    // refetches the JWKS nor makes /ready go 503. A jwks_file provider is
    // re-read (cheap, synchronous): SIGHUP is how a rotated file is picked up.
    if (snapshot_ && provider.jwks_file.empty()) {
      auto it = snapshot_->providers.find(name);
      if (it != snapshot_->providers.end() && it->second->config() == provider) {
        snapshot->providers.emplace(name, it->second);
        continue;
      }
    }
    auto created = auth::KeyProvider::create(base_, provider);
    to_start->push_back(created.get());
    snapshot->providers.emplace(name, std::move(created));
  }
  make_token_sources(*config, snapshot.get());
  snapshot->cors.allowed_origins = config->cors.allowed_origins;
  // Session bindings outlive a reload: clients keep their sessions.
  const SessionBindings::Limits session_limits{config->authz.max_sessions,
                                               config->authz.max_sessions_per_principal,
                                               config->authz.session_idle_timeout};
  if (snapshot_ && snapshot_->sessions) {
    snapshot->sessions = snapshot_->sessions;
    snapshot->sessions->set_limits(session_limits, SessionBindings::Clock::now());
  } else {
    snapshot->sessions = std::make_shared<SessionBindings>(session_limits);
  }
  for (const auto& listener : config->listeners) {
    snapshot->origin_policies.emplace(listener.address, origin_policy_for(listener, *config));
  }
  for (const auto& route : config->routes) {
    snapshot->route_policies.push_back(auth::route_policies(route, config->providers));
  }
  snapshot->config = std::move(config);
  return publish(std::move(snapshot));
}

namespace {

// An upstream's token source whose credentials did not change is carried
// over with its cached tokens (as the key providers are), so that SIGHUP
// neither asks the AS again nor makes the requests wait.
template <typename Source, typename Config>
std::shared_ptr<Source> carried_or_new(
    const std::map<std::string, std::shared_ptr<Source>>* previous, const std::string& name,
    const Config& config, event_base* base) {
  if (previous) {
    auto it = previous->find(name);
    if (it != previous->end() && credentials::same_credentials(it->second->config(), config)) {
      return it->second;
    }
  }
  return std::make_shared<Source>(name, config, credentials::http_fetch_function(base));
}

}  // namespace

void Gateway::make_token_sources(const config::Config& config, Snapshot* snapshot) const {
  for (const auto& [name, upstream] : config.upstreams) {
    if (upstream.client_credentials) {
      snapshot->client_credentials.emplace(
          name, carried_or_new(snapshot_ ? &snapshot_->client_credentials : nullptr, name,
                               *upstream.client_credentials, base_));
    }
    if (upstream.token_exchange) {
      snapshot->token_exchangers.emplace(
          name, carried_or_new(snapshot_ ? &snapshot_->token_exchangers : nullptr, name,
                               *upstream.token_exchange, base_));
    }
  }
}

bool Gateway::bind_new_listeners(const config::Config& config,
                                 std::map<std::string, uint16_t>* added, std::string* error) {
  for (const auto& listener : config.listeners) {
    if (listeners_.count(listener.address) || added->count(listener.address)) continue;
    std::string host;
    uint16_t port = 0;
    if (!http::split_host_port(listener.address, &host, &port)) {
      *error = "listener " + listener.address + ": invalid address";
      return false;
    }
    // SO_REUSEPORT would let this process share a port another process
    // already listens on: make sure it is free first.
    if (port != 0 && !http::probe_bind(listener.address, error)) {
      *error = "listener " + listener.address + ": " + *error;
      return false;
    }
    uint16_t bound = port;
    for (auto& worker : workers_) {
      // For ":0" the first worker gets a free port, the others join it.
      const std::string address =
          bound == 0 ? listener.address
                     : (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                           std::to_string(bound);
      if (!worker->bind(listener, address, &bound, error)) {
        *error = "listener " + listener.address + ": " + *error;
        return false;
      }
    }
    added->emplace(listener.address, bound);
  }
  return true;
}

bool Gateway::make_admin(const config::Config& config, std::unique_ptr<AdminListener>* admin,
                         std::string* error) {
  const std::string address = effective_admin_address(config.admin);
  if (address.empty() || !make_admin_) return true;
  AdminContext context;
  context.snapshot = [this] { return snapshot_; };
  context.active_connections = [this] { return active_connections(); };
  context.update_worker_gauges = [this] { update_worker_gauges(); };
  std::unique_ptr<AdminListener> server = make_admin_(base_, std::move(context));
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
  std::vector<auth::KeyProvider*> to_start;
  snapshot_ = build_snapshot(initial_config_, &to_start, error);
  initial_config_.reset();
  if (!snapshot_) return false;
  const size_t count = effective_workers(*snapshot_->config);
  for (size_t i = 0; i < count; ++i) {
    auto worker = std::make_unique<Worker>(static_cast<int>(i), main_loop_);
    if (!worker->ok()) {
      *error = "cannot create the event loop of worker " + std::to_string(i);
      return false;
    }
    worker->start();
    workers_.push_back(std::move(worker));
  }
  for (auto* provider : to_start) provider->start();
  std::map<std::string, uint16_t> added;
  if (!bind_new_listeners(*snapshot_->config, &added, error)) return false;
  for (auto& worker : workers_) worker->commit(snapshot_);
  for (const auto& [address, port] : added) print_listening(address, port);
  listeners_ = std::move(added);
  log::info("main", std::to_string(workers_.size()) + " worker thread(s)");
  if (!make_admin(*snapshot_->config, &admin_, error)) return false;
  admin_address_ = effective_admin_address(snapshot_->config->admin);
  return true;
}

bool Gateway::reload(std::shared_ptr<const config::Config> config, std::string* error) {
  if (effective_workers(*config) != workers_.size()) {
    log::warn("reload", "`workers` changes take effect at the next start; keeping " +
                            std::to_string(workers_.size()));
  }
  std::vector<auth::KeyProvider*> to_start;
  auto next = build_snapshot(std::move(config), &to_start, error);
  if (!next) return false;

  std::map<std::string, uint16_t> added;
  auto abandon = [&] {
    for (auto& worker : workers_) worker->discard_staged();
    return false;
  };
  if (!bind_new_listeners(*next->config, &added, error)) return abandon();
  std::unique_ptr<AdminListener> new_admin;
  const bool admin_changed = effective_admin_address(next->config->admin) != admin_address_;
  // The new admin address is bound while the old one still listens, so a
  // failure leaves the old one in place.
  if (admin_changed && !make_admin(*next->config, &new_admin, error)) return abandon();
  // TLS certificates of the listeners that stay are re-read (rotation).
  // Every worker reads the same files: the first one to refuse them stops
  // the reload (the ones before it keep the new certificate, which was good).
  for (const auto& listener : next->config->listeners) {
    if (!listeners_.count(listener.address)) continue;
    for (auto& worker : workers_) {
      if (!worker->reload_tls(listener, error)) {
        *error = "listener " + listener.address + ": " + *error;
        return abandon();
      }
    }
  }
  // Commit: nothing below can fail. New providers start before any worker
  // can see them, so that early requests wait for their first fetch.
  for (auto* provider : to_start) provider->start();
  for (auto& worker : workers_) worker->commit(next);
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    const bool kept =
        std::any_of(next->config->listeners.begin(), next->config->listeners.end(),
                    [&](const config::Listener& l) { return l.address == it->first; });
    it = kept ? std::next(it) : listeners_.erase(it);
  }
  for (const auto& [address, port] : added) {
    print_listening(address, port);
    listeners_.emplace(address, port);
  }
  if (admin_changed) {
    admin_ = std::move(new_admin);
    admin_address_ = effective_admin_address(next->config->admin);
  }
  snapshot_ = std::move(next);
  return true;
}

void Gateway::stop_accepting() {
  for (auto& worker : workers_) worker->stop_accepting();
  if (admin_) admin_->stop_accepting();
}

void Gateway::drain() {
  for (auto& worker : workers_) worker->drain();
  if (admin_) admin_->stop_accepting();
}

uint16_t Gateway::admin_port() const {
  return admin_ ? admin_->port() : 0;
}

size_t Gateway::active_connections() const {
  size_t total = 0;
  for (const auto& worker : workers_) total += worker->active_connections();
  return total;
}

void Gateway::update_worker_gauges() {
  for (auto& worker : workers_) worker->update_scrape_gauges();
}

}  // namespace mag::proxy
