#include "proxy/server/worker.h"

#include <algorithm>

#include "common/core/log.h"
#include "proxy/server/proxy_stream.h"

namespace mag::proxy {

Worker::Worker(int id, std::shared_ptr<Mailbox> main_loop)
    : id_(id),
      main_loop_(std::move(main_loop)),
      shard_(metrics::new_shard()),
      requests_series_(shard_.handle("mag_worker_requests_total", metrics::Type::kCounter,
                                     {{"worker", std::to_string(id)}})) {}

Worker::~Worker() {
  stop();
}

void Worker::start() {
  loop_.start();
  // Every metric this thread records goes to its own shard.
  loop_.mailbox()->post([shard = &shard_] { metrics::bind_thread_shard(shard); });
}

std::unique_ptr<http::HttpServer> Worker::make_server(const config::Listener& listener) {
  http::ServerOptions options = server_options(listener);
  options.reuse_port = true;  // every worker has its own socket on the port
  // The factory reads the worker's snapshot when a request starts (on this
  // thread, no lock): that is what makes a reload visible on sockets that
  // were never re-bound.
  return std::make_unique<http::HttpServer>(
      loop_.base(),
      [this, address = listener.address](
          http::ServerStream& stream) -> std::unique_ptr<http::ServerStreamHandler> {
        shard_.add(requests_series_);  // this thread's own shard (start())
        auto handler = std::make_unique<ProxyStream>(stream, current_);
        handler->set_listener(address);  // selects its Origin/Host allow-lists
        return handler;
      },
      options);
}

bool Worker::bind(const config::Listener& listener, const std::string& bind_address, uint16_t* port,
                  std::string* error) {
  bool ok = false;
  loop_.run_sync([&] {
    auto server = make_server(listener);
    if (!server->listen(bind_address, error)) return;
    // Staged until commit(): a failed reload closes it again. (The socket
    // accepts at once; a request that arrives in the few milliseconds before
    // commit() is served by the current snapshot.)
    *port = server->port();
    staged_[listener.address] = std::move(server);
    ok = true;
  });
  return ok;
}

void Worker::discard_staged() {
  loop_.run_sync([&] { staged_.clear(); });
}

bool Worker::reload_tls(const config::Listener& listener, std::string* error) {
  bool ok = true;
  loop_.run_sync([&] {
    auto it = servers_.find(listener.address);
    if (it == servers_.end()) return;
    ok = it->second->reload_tls(listener.tls_certificate, listener.tls_private_key, error);
  });
  return ok;
}

void Worker::commit(std::shared_ptr<const Snapshot> snapshot) {
  loop_.run_sync([&] {
    const auto& listeners = snapshot->config->listeners;
    for (auto it = servers_.begin(); it != servers_.end();) {
      const bool kept =
          std::any_of(listeners.begin(), listeners.end(),
                      [&](const config::Listener& l) { return l.address == it->first; });
      if (kept) {
        ++it;
        continue;
      }
      if (id_ == 0) log::info("reload", "listener " + it->first + " removed: no longer accepting");
      it->second->stop_accepting();
      retired_.push_back(std::move(it->second));
      it = servers_.erase(it);
    }
    for (auto& [address, server] : staged_) servers_[address] = std::move(server);
    staged_.clear();
    WorkerLoops loops{id_, loop_.base(), loop_.mailbox(), main_loop_.get()};
    // Pools are made here, on this worker's loop; the old snapshot stays
    // with the requests that hold it.
    current_ = build_worker_snapshot(std::move(snapshot), loops, current_.get());
  });
}

void Worker::stop_accepting() {
  loop_.run_sync([&] {
    for (auto& [address, server] : servers_) server->stop_accepting();
  });
}

void Worker::drain() {
  loop_.run_sync([&] {
    for (auto& [address, server] : servers_) server->drain();
    for (auto& server : retired_) server->drain();
  });
}

size_t Worker::active_connections() {
  size_t total = 0;
  loop_.run_sync([&] {
    for (const auto& [address, server] : servers_) total += server->active_connections();
    for (const auto& server : retired_) total += server->active_connections();
  });
  return total;
}

void Worker::update_scrape_gauges() {
  loop_.run_sync([&] {
    shard_.clear_gauge("mag_upstream_connections_active");
    shard_.clear_gauge("mag_upstream_connections_idle");
    shard_.clear_gauge("mag_token_cache_entries");
    if (!current_) return;
    for (const auto& [name, pool] : current_->pools) {
      shard_.gauge_set("mag_upstream_connections_active", {{"upstream", name}},
                       static_cast<double>(pool->active_connections()));
      shard_.gauge_set("mag_upstream_connections_idle", {{"upstream", name}},
                       static_cast<double>(pool->idle_connections()));
    }
    for (const auto& [name, view] : current_->providers) {
      shard_.gauge_set("mag_token_cache_entries", {{"provider", name}},
                       static_cast<double>(view->cache().size()));
    }
  });
}

void Worker::stop() {
  if (!loop_.ok()) return;
  loop_.run_sync([&] {
    staged_.clear();
    servers_.clear();  // open exchanges are reset; their snapshots go
    retired_.clear();
    current_.reset();
  });
  loop_.stop();
}

}  // namespace mag::proxy
