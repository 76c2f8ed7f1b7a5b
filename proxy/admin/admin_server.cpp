#include "proxy/admin/admin_server.h"

#include <chrono>
#include <set>

#include "common/core/c_handles.h"
#include "common/core/log.h"
#include "common/json/json_text.h"
#include "proxy/admin/config_dump.h"
#include "proxy/telemetry/metrics.h"

namespace mag::proxy {
namespace {

constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string dump(json_t* doc) {
  auto text = json::to_json_string(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (!text) return "{}";
  return *text + "\n";
}

json_t* str(const std::string& value) {
  return json_stringn(value.data(), value.size());
}

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

json_t* time_or_null(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return json_null();
  return json_integer(static_cast<json_int_t>(unix_seconds(t)));
}

std::shared_ptr<const auth::KeySet> provider_keys(const Snapshot& snapshot, const std::string& name,
                                                  const auth::KeyProvider** out) {
  auto it = snapshot.providers.find(name);
  *out = it == snapshot.providers.end() ? nullptr : it->second.get();
  return *out ? (*out)->keys() : nullptr;
}

AdminResponse json_response(int status, std::string body) {
  AdminResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

class AdminStream : public http::ServerStreamHandler {
 public:
  AdminStream(http::ServerStream& stream, const AdminContext& context, const UpstreamHealth& health)
      : stream_(stream), context_(context), health_(health) {}

  void on_request_head(http::RequestHead&& head, bool) override {
    AdminResponse response;
    try {
      response = handle_admin_request(head.method, head.path, context_, &health_);
    } catch (const std::exception& e) {
      log::error("admin", std::string("request failed: ") + e.what());
      response = json_response(500, "{\"error\":\"internal\"}\n");
    }
    http::ResponseHead out;
    out.status = response.status;
    out.headers.add("Content-Type", response.content_type);
    out.headers.add("Content-Length", std::to_string(response.body.size()));
    out.headers.add("Cache-Control", "no-store");
    const bool head_only = head.method == "HEAD" || response.body.empty();
    stream_.send_head(std::move(out), head_only);
    if (!head_only) stream_.send_body(response.body, true);
  }
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override {}

 private:
  http::ServerStream& stream_;
  const AdminContext& context_;
  const UpstreamHealth& health_;
};

// /ready's "upstreams" member: per upstream a route uses, whether any of
// its endpoints accepted in the latest probe round (an upstream not probed
// yet, e.g. just after start or a reload, is not ready). False when one is down.
bool add_upstream_readiness(json_t* doc, const config::Config& config,
                            const UpstreamHealth& health) {
  const auto states = health.states();
  json_t* upstreams = json_object();
  json_t* down = json_array();
  std::set<std::string> used;
  for (const auto& route : config.routes) used.insert(route.upstream);
  for (const auto& name : used) {
    bool up = false;
    json_t* endpoints = json_array();
    for (const auto& state : states) {
      if (state.upstream != name) continue;
      up = up || state.up;
      json_t* e = json_object();
      json_object_set_new(e, "url", str(state.url));
      json_object_set_new(e, "up", json_boolean(state.up));
      if (!state.up) {
        json_object_set_new(
            e, "reason",
            str(state.checked ? log::sanitize(state.error) : std::string("not checked yet")));
      }
      json_array_append_new(endpoints, e);
    }
    json_t* entry = json_object();
    json_object_set_new(entry, "ready", json_boolean(up));
    if (json_array_size(endpoints) == 0) {
      json_object_set_new(entry, "reason", json_string("not checked yet"));
    }
    json_object_set_new(entry, "endpoints", endpoints);
    json_object_set_new(upstreams, name.c_str(), entry);
    if (!up) json_array_append_new(down, str(name));
  }
  const bool ready = json_array_size(down) == 0;
  json_object_set_new(doc, "upstreams", upstreams);
  json_object_set_new(doc, "upstreams_down", down);
  return ready;
}

}  // namespace

std::string readiness_json(const Snapshot& snapshot, bool* ready, const UpstreamHealth* health) {
  *ready = snapshot.config != nullptr;
  JsonPtr doc = json_own(json_object());
  json_t* providers = json_object();
  if (snapshot.config) {
    for (const auto& route : snapshot.config->routes) {
      if (!route.auth.enabled) continue;
      for (const auto& name : route.auth.providers) {
        if (json_object_get(providers, name.c_str())) continue;
        const auth::KeyProvider* provider = nullptr;
        auto keys = provider_keys(snapshot, name, &provider);
        json_t* entry = json_object();
        const bool has_keys = keys && !keys->keys().empty();
        json_object_set_new(entry, "ready", json_boolean(has_keys));
        json_object_set_new(entry, "keys", json_integer(has_keys ? keys->keys().size() : 0));
        if (!has_keys) {
          *ready = false;
          std::string reason = !provider ? "provider is not running"
                               : provider->last_error().empty()
                                   ? "no keys yet (first fetch in progress)"
                                   : "no keys: " + log::sanitize(provider->last_error());
          json_object_set_new(entry, "reason", str(reason));
        }
        json_object_set_new(providers, name.c_str(), entry);
      }
    }
  }
  json_object_set_new(doc.get(), "ready", json_boolean(*ready));
  json_object_set_new(doc.get(), "config_loaded", json_boolean(snapshot.config != nullptr));
  json_object_set_new(doc.get(), "providers", providers);
  if (snapshot.config && snapshot.config->admin.ready_checks_upstreams && health) {
    if (!add_upstream_readiness(doc.get(), *snapshot.config, *health)) *ready = false;
    json_object_set_new(doc.get(), "ready", json_boolean(*ready));
  }
  return dump(doc.get());
}

std::string jwks_status_json(const Snapshot& snapshot) {
  JsonPtr doc = json_own(json_object());
  json_t* providers = json_object();
  for (const auto& [name, provider] : snapshot.providers) {
    const auto& config = provider->config();
    const auto& status = provider->fetch_status();
    json_t* entry = json_object();
    json_object_set_new(entry, "source",
                        str(config.jwks_uri.empty() ? config.jwks_file : config.jwks_uri));
    json_t* kids = json_array();
    size_t count = 0;
    if (auto keys = provider->keys()) {
      for (const auto& key : keys->keys()) {
        json_t* k = json_object();
        json_object_set_new(k, "kid", str(key.kid));
        json_object_set_new(k, "kty", str(key.kty));
        if (!key.alg.empty()) json_object_set_new(k, "alg", str(key.alg));
        json_array_append_new(kids, k);
        ++count;
      }
    }
    json_object_set_new(entry, "keys", kids);
    json_object_set_new(entry, "key_count", json_integer(static_cast<json_int_t>(count)));
    json_object_set_new(entry, "last_fetch", time_or_null(status.last_attempt));
    json_object_set_new(entry, "last_success", time_or_null(status.last_success));
    json_object_set_new(
        entry, "last_result",
        status.last_result.empty() ? json_null() : str(log::sanitize(status.last_result)));
    json_object_set_new(entry, "next_refresh",
                        config.jwks_uri.empty() ? json_null() : time_or_null(status.next_refresh));
    json_object_set_new(providers, name.c_str(), entry);
  }
  json_object_set_new(doc.get(), "providers", providers);
  return dump(doc.get());
}

void update_scrape_gauges(const Snapshot& snapshot, size_t active_connections) {
  auto& registry = metrics::process();
  registry.gauge_set("mag_downstream_connections_active", {},
                     static_cast<double>(active_connections));
  registry.clear_gauge("mag_jwks_keys_loaded");
  registry.clear_gauge("mag_jwks_seconds_since_last_success");
  const auto now = std::chrono::system_clock::now();
  for (const auto& [name, provider] : snapshot.providers) {
    auto keys = provider->keys();
    registry.gauge_set("mag_jwks_keys_loaded", {{"provider", name}},
                       keys ? static_cast<double>(keys->keys().size()) : 0);
    const auto last = provider->fetch_status().last_success;
    registry.gauge_set("mag_jwks_seconds_since_last_success", {{"provider", name}},
                       last == std::chrono::system_clock::time_point{}
                           ? -1
                           : std::chrono::duration<double>(now - last).count());
  }
}

AdminResponse handle_admin_request(std::string_view method, std::string_view path,
                                   const AdminContext& context, const UpstreamHealth* health) {
  if (method != "GET" && method != "HEAD") {
    return json_response(405, "{\"error\":\"method_not_allowed\"}\n");
  }
  if (path == "/healthz") return json_response(200, "{\"status\":\"alive\"}\n");
  auto snapshot = context.snapshot ? context.snapshot() : nullptr;
  if (!snapshot) return json_response(503, "{\"ready\":false,\"config_loaded\":false}\n");
  if (path == "/ready") {
    bool ready = false;
    std::string body = readiness_json(*snapshot, &ready, health);
    return json_response(ready ? 200 : 503, std::move(body));
  }
  if (path == "/stats/prometheus" || path == "/metrics") {
    update_scrape_gauges(*snapshot, context.active_connections ? context.active_connections() : 0);
    if (context.update_worker_gauges) context.update_worker_gauges();
    AdminResponse r;
    r.content_type = std::string(kPrometheusContentType);
    r.body = metrics::render_all();
    return r;
  }
  if (path == "/config_dump") return json_response(200, config_dump_json(*snapshot->config));
  if (path == "/jwks_status") return json_response(200, jwks_status_json(*snapshot));
  return json_response(404,
                       "{\"error\":\"not_found\",\"endpoints\":[\"/healthz\",\"/ready\","
                       "\"/stats/prometheus\",\"/config_dump\",\"/jwks_status\"]}\n");
}

AdminServer::AdminServer(event_base* base, AdminContext context)
    : context_(std::move(context)),
      health_(base,
              [this]() -> std::shared_ptr<const config::Config> {
                auto snapshot = context_.snapshot ? context_.snapshot() : nullptr;
                return snapshot ? snapshot->config : nullptr;
              }),
      server_(base,
              [this](http::ServerStream& stream) -> std::unique_ptr<http::ServerStreamHandler> {
                return std::make_unique<AdminStream>(stream, context_, health_);
              }) {}

bool AdminServer::listen(const std::string& address, std::string* error) {
  if (!server_.listen(address, error)) return false;
  health_.start();
  return true;
}

void AdminServer::stop_accepting() {
  server_.stop_accepting();
  health_.stop();
}

}  // namespace mag::proxy
