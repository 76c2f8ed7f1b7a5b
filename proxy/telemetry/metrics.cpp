#include "proxy/telemetry/metrics.h"

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>

namespace mag::metrics {
namespace {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // The shortest text that reads back as the same double ("0.0025", not
  // "0.0025000000000000001").
  char buffer[64];
  for (int precision = 6; precision <= 17; ++precision) {
    snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (strtod(buffer, nullptr) == v) break;
  }
  return buffer;
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Appends `extra` (le="...") inside an already rendered label set.
std::string with_label(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

const std::vector<double> kDurationBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10,   30};

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return out + "}";
}

void Registry::declare(std::string_view name, Type type, std::string_view help,
                       std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, type);
  f.help = std::string(help);
  if (type == Type::kHistogram) f.bounds = buckets.empty() ? kDurationBuckets : std::move(buckets);
}

Registry::Family& Registry::family(std::string_view name, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f;
    f.type = type;
    f.help = "mcp-auth-gateway metric";
    if (type == Type::kHistogram) f.bounds = kDurationBuckets;
    it = families_.emplace(std::string(name), std::move(f)).first;
  }
  return it->second;
}

void Registry::counter_add(std::string_view name, const Labels& labels, double value) {
  if (value < 0) return;  // counters only go up
  std::lock_guard lock(mutex_);
  family(name, Type::kCounter).series[render_labels(labels)].value += value;
}

void Registry::gauge_set(std::string_view name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  family(name, Type::kGauge).series[render_labels(labels)].value = value;
}

void Registry::gauge_add(std::string_view name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  family(name, Type::kGauge).series[render_labels(labels)].value += value;
}

void Registry::clear_gauge(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  auto& series = it->second.series;
  for (auto s = series.begin(); s != series.end();) {
    if (s->second.has_handle) {  // someone holds its address: keep it, at 0
      s->second.value = 0;
      ++s;
    } else {
      s = series.erase(s);
    }
  }
}

void Registry::observe(std::string_view name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, Type::kHistogram);
  observe_locked(f.series[render_labels(labels)], f.bounds, value);
}

void Registry::observe_locked(Series& s, const std::vector<double>& bounds, double value) {
  if (s.buckets.size() != bounds.size()) s.buckets.assign(bounds.size(), 0);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      ++s.buckets[i];
      break;
    }
  }
  s.sum += value;
  ++s.count;
}

Registry::Handle Registry::handle(std::string_view name, Type type, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, type);
  if (f.type != type) return {};  // declared as another type: not updatable as this one
  Series& s = f.series[render_labels(labels)];
  s.has_handle = true;
  return Handle(&s, &f.bounds);
}

void Registry::add(Handle handle, double value) {
  if (!handle.series_) return;
  std::lock_guard lock(mutex_);
  handle.series_->value += value;
}

void Registry::observe(Handle handle, double value) {
  if (!handle.series_) return;
  std::lock_guard lock(mutex_);
  observe_locked(*handle.series_, *handle.bounds_, value);
}

uint64_t Registry::next_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

double Registry::value(std::string_view name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(render_labels(labels));
  if (s == it->second.series.end()) return 0;
  return it->second.type == Type::kHistogram ? static_cast<double>(s->second.count)
                                             : s->second.value;
}

std::string Registry::render_prometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + name + " " + std::string(type_name(f.type)) + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += name + labels + " " + format_number(s.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += i < s.buckets.size() ? s.buckets[i] : 0;
        out += name + "_bucket" + with_label(labels, "le=\"" + format_number(f.bounds[i]) + "\"") +
               " " + std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket" + with_label(labels, "le=\"+Inf\"") + " " + std::to_string(s.count) +
             "\n";
      out += name + "_sum" + labels + " " + format_number(s.sum) + "\n";
      out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

Registry::Registry(Registry&& other) {
  std::lock_guard lock(other.mutex_);
  families_ = std::move(other.families_);
}

void Registry::merge_from(const Registry& other) {
  // Never called with `other` == this; the two locks are always taken in
  // the order target, source by the scraping thread only: no deadlock.
  std::scoped_lock lock(mutex_, other.mutex_);
  for (const auto& [name, source] : other.families_) {
    auto it = families_.find(name);
    if (it == families_.end())
      it = families_.emplace(name, source).first;
    else if (it->second.type != source.type)
      continue;
    else {
      Family& target = it->second;
      for (const auto& [labels, s] : source.series) {
        Series& t = target.series[labels];
        t.value += s.value;
        if (target.type != Type::kHistogram) continue;
        if (t.buckets.size() != target.bounds.size()) t.buckets.assign(target.bounds.size(), 0);
        if (s.buckets.size() == t.buckets.size()) {
          for (size_t i = 0; i < s.buckets.size(); ++i) t.buckets[i] += s.buckets[i];
        }
        t.sum += s.sum;
        t.count += s.count;
      }
    }
  }
}

void Registry::copy_declarations_from(const Registry& other) {
  std::scoped_lock lock(mutex_, other.mutex_);
  for (const auto& [name, source] : other.families_) {
    Family& f = families_[name];
    f.type = source.type;
    f.help = source.help;
    f.bounds = source.bounds;
  }
}

namespace {
thread_local Registry* t_shard = nullptr;

struct Shards {
  std::mutex mutex;
  std::deque<std::unique_ptr<Registry>> all;  // never shrinks: threads keep pointers
};
Shards& shards() {
  static Shards s;
  return s;
}
}  // namespace

Registry& process() {
  static Registry registry = [] {
    Registry r;
    declare_gateway_metrics(r);
    return r;
  }();
  return registry;
}

Registry& global() {
  return t_shard ? *t_shard : process();
}

Registry& new_shard() {
  auto shard = std::make_unique<Registry>();
  shard->copy_declarations_from(process());
  Shards& s = shards();
  std::lock_guard lock(s.mutex);
  s.all.push_back(std::move(shard));
  return *s.all.back();
}

void bind_thread_shard(Registry* shard) {
  t_shard = shard;
}

Registry merged() {
  Registry out;
  out.merge_from(process());
  Shards& s = shards();
  std::lock_guard lock(s.mutex);
  for (const auto& shard : s.all) out.merge_from(*shard);
  return out;
}

std::string render_all() {
  return merged().render_prometheus();
}

std::string status_class(int status) {
  if (status < 100 || status > 599) return "other";
  return std::to_string(status / 100) + "xx";
}

std::string method_label(std::string_view method) {
  static constexpr std::array<std::string_view, 8> kKnown = {"GET",  "POST",    "PUT",   "DELETE",
                                                             "HEAD", "OPTIONS", "PATCH", "CONNECT"};
  for (auto m : kKnown) {
    if (m == method) return std::string(m);
  }
  return "OTHER";
}

void declare_gateway_metrics(Registry& r) {
  r.declare("mag_requests_total", Type::kCounter,
            "Requests answered, by route (path_prefix), method and status class.");
  r.declare("mag_request_duration_seconds", Type::kHistogram,
            "Time from request head to the end of the response, by route.");
  r.declare("mag_upstream_duration_seconds", Type::kHistogram,
            "Time from forwarding to the end of the upstream response, by route.");
  r.declare("mag_gateway_overhead_seconds", Type::kHistogram,
            "Request duration minus upstream time, by route.");
  r.declare("mag_auth_decisions_total", Type::kCounter,
            "Authentication decisions by route, decision (allow/deny) and reason code.");
  r.declare("mag_upstream_errors_total", Type::kCounter,
            "Upstream failures by upstream and kind (connect_failed, reset, timeouts...).");
  r.declare("mag_upstream_tls_failures_total", Type::kCounter,
            "TLS handshakes with https:// upstreams that failed, by upstream and reason "
            "(verify, protocol, handshake).");
  r.declare("mag_upstream_token_requests_total", Type::kCounter,
            "Requests to an upstream credentials' token endpoint, by upstream, grant "
            "(client_credentials, token_exchange) and outcome (issued, refused, "
            "client_rejected, unavailable).");
  r.declare("mag_upstream_token_cache_total", Type::kCounter,
            "Lookups of an upstream's OAuth token by the requests, by upstream and result "
            "(hit, miss).");
  r.declare("mag_upstream_connections_active", Type::kGauge,
            "Upstream connections carrying a request, by upstream (current config).");
  r.declare("mag_upstream_connections_idle", Type::kGauge,
            "Idle keep-alive upstream connections, by upstream (current config).");
  r.declare("mag_downstream_connections_active", Type::kGauge,
            "Open client connections on the public listeners.");
  r.declare("mag_downstream_streams_active", Type::kGauge,
            "Requests in progress (SSE responses included).");
  r.declare("mag_downstream_sse_streams_active", Type::kGauge, "Open text/event-stream responses.");
  r.declare("mag_jwks_fetches_total", Type::kCounter,
            "JWKS fetches by provider and result (success/failure).");
  r.declare("mag_jwks_keys_loaded", Type::kGauge, "Usable verification keys, by provider.");
  r.declare("mag_jwks_seconds_since_last_success", Type::kGauge,
            "Seconds since the provider's keys were last loaded (-1: never).");
  r.declare("mag_token_cache_lookups_total", Type::kCounter,
            "Verified-token cache lookups by provider and result (hit, negative_hit, miss).");
  r.declare("mag_token_cache_entries", Type::kGauge,
            "Verified tokens cached, by provider (entries of the current config).");
  r.declare("mag_token_signature_verifications_total", Type::kCounter,
            "Token signatures checked (cache misses that got past the cheap checks), by "
            "provider and result (good/bad).");
  r.declare("mag_token_cache_evictions_total", Type::kCounter,
            "Verified tokens dropped from a full cache (least recently used), by provider.");
  r.declare("mag_worker_requests_total", Type::kCounter,
            "Requests received, by worker thread (worker=\"0\"..N-1).");
  r.declare("mag_claim_headers_omitted_total", Type::kCounter,
            "claim_to_headers values not sent (control characters, edge spaces, over 4 KiB), "
            "by route, claim and reason.");
  r.declare("mag_config_reloads_total", Type::kCounter,
            "Configuration reloads by result (success/failure).");
  r.declare("mag_config_last_reload_successful", Type::kGauge,
            "1 when the last reload attempt succeeded (or none was made), else 0.");
  r.gauge_set("mag_config_last_reload_successful", {}, 1);
  r.gauge_set("mag_downstream_streams_active", {}, 0);
  r.gauge_set("mag_downstream_sse_streams_active", {}, 0);
}

}  // namespace mag::metrics
