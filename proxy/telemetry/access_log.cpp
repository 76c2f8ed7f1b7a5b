#include "proxy/telemetry/access_log.h"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <unordered_map>

#include "common/core/log.h"
#include "common/core/random_mix.h"
#include "common/json/json_text.h"
#include "proxy/telemetry/metrics.h"

namespace mag::proxy {
namespace {

constexpr size_t kMaxRequestIdLength = 128;

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  const auto since_epoch = t.time_since_epoch();
  const time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
  tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[96];
  snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
           parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
           static_cast<int>(millis));
  return buffer;
}

double seconds_between(std::chrono::steady_clock::time_point a,
                       std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Network bytes may be invalid UTF-8, which jansson refuses: such values are
// logged in their sanitised (\xNN) form.
json_t* json_text(const std::string& value) {
  json_t* s = json_stringn(value.data(), value.size());
  if (s) return s;
  const std::string safe = log::sanitize(value, 2048);
  return json_stringn(safe.data(), safe.size());
}

// Milliseconds with microsecond resolution: enough, and short in the log.
double round_ms(double seconds) {
  return std::round(seconds * 1e6) / 1e3;
}

}  // namespace

std::shared_ptr<AccessLogSink> AccessLogSink::open(const std::string& path, AccessLogFormat format,
                                                   std::string* error) {
  if (path.empty() || path == "-") {
    return std::shared_ptr<AccessLogSink>(new AccessLogSink(stdout, nullptr, format));
  }
  FilePtr file(fopen(path.c_str(), "ae"));
  if (!file) {
    *error = "cannot open access log " + path + " for appending";
    return nullptr;
  }
  FILE* out = file.get();
  return std::shared_ptr<AccessLogSink>(new AccessLogSink(out, std::move(file), format));
}

void AccessLogSink::write_line(const std::string& line) {
  // One fwrite and a flush per line: with O_APPEND, lines from an old and a
  // new sink (across a reload) never interleave mid-line. Worker threads
  // share the sink: the FILE lock (held for the line and its flush, after
  // the request has been answered) keeps their lines whole and in one piece.
  std::string with_newline = line + "\n";
  flockfile(out_);
  fwrite(with_newline.data(), 1, with_newline.size(), out_);
  fflush(out_);
  funlockfile(out_);
}

std::string format_access_json(const AccessRecord& r, const AccessLogIdentity& identity) {
  JsonPtr doc = json_own(json_object());
  json_object_set_new(doc.get(), "time", json_text(iso8601_utc(r.start_time)));
  json_object_set_new(doc.get(), "request_id", json_text(r.request_id));
  json_object_set_new(doc.get(), "route", r.route.empty() ? json_null() : json_text(r.route));
  json_object_set_new(doc.get(), "method", json_text(r.method));
  json_object_set_new(doc.get(), "path", json_text(r.path));
  json_object_set_new(doc.get(), "status", json_integer(r.status));
  json_object_set_new(doc.get(), "bytes_sent", json_integer(static_cast<json_int_t>(r.bytes_sent)));
  json_object_set_new(doc.get(), "duration_ms", json_real(round_ms(r.duration_seconds)));
  json_object_set_new(doc.get(), "upstream_ms",
                      r.upstream_seconds ? json_real(round_ms(*r.upstream_seconds)) : json_null());
  // Left out entirely with `omit`; null when the request carried no identity.
  if (auto sub = identity.subject(r.subject)) {
    json_object_set_new(doc.get(), "sub", sub->empty() ? json_null() : json_text(*sub));
  }
  if (auto client_id = identity.client_id(r.client_id)) {
    json_object_set_new(doc.get(), "client_id",
                        client_id->empty() ? json_null() : json_text(*client_id));
  }
  json_object_set_new(doc.get(), "auth",
                      r.auth_decision.empty() ? json_null() : json_text(r.auth_decision));
  json_object_set_new(doc.get(), "auth_reason",
                      r.auth_reason.empty() ? json_null() : json_text(r.auth_reason));
  if (!r.upstream_error.empty()) {
    json_object_set_new(doc.get(), "upstream_error", json_text(r.upstream_error));
  }
  if (!r.mcp_method.empty()) {
    json_object_set_new(doc.get(), "mcp_method", json_text(r.mcp_method));
    json_object_set_new(doc.get(), "mcp_tool",
                        r.mcp_tool.empty() ? json_null() : json_text(r.mcp_tool));
  }
  // 15 significant digits: a value rounded to 3 decimals prints as such
  // (3.127, not 3.1269999999999998).
  return json::to_json_string(doc.get(),
                              JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
      .value_or("{}");
}

std::string format_access_text(const AccessRecord& r, const AccessLogIdentity& identity) {
  // Every value is sanitised and spaces cannot appear in the bounded fields,
  // so a line always splits into the same columns.
  auto field = [](const std::string& v) { return v.empty() ? std::string("-") : log::sanitize(v); };
  char duration[32];
  snprintf(duration, sizeof duration, "%.3fms", r.duration_seconds * 1000);
  char upstream[32] = "-";
  if (r.upstream_seconds) snprintf(upstream, sizeof upstream, "%.3fms", *r.upstream_seconds * 1000);
  // An omitted field drops its column on every line, so columns stay fixed.
  std::string identity_columns;
  if (auto sub = identity.subject(r.subject)) identity_columns += " sub=" + field(*sub);
  if (auto client_id = identity.client_id(r.client_id)) {
    identity_columns += " client_id=" + field(*client_id);
  }
  return iso8601_utc(r.start_time) + " " + field(r.request_id) + " " + field(r.method) + " " +
         field(r.path) + " " + std::to_string(r.status) + " " + std::to_string(r.bytes_sent) + " " +
         duration + " upstream=" + upstream + " route=" + field(r.route) +
         " auth=" + field(r.auth_decision) +
         (r.auth_reason.empty() ? "" : "/" + field(r.auth_reason)) + identity_columns +
         (r.mcp_method.empty() ? ""
                               : " mcp=" + field(r.mcp_method) +
                                     (r.mcp_tool.empty() ? "" : "/" + field(r.mcp_tool)));
}

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

namespace {

// Per-thread id source: a random 64-bit prefix and key drawn once per thread
// (OpenSSL's RNG per request cost a getpid() fork check and ~1 µs), then a
// counter passed through a bijective mixer (splitmix64's finaliser, keyed):
// ids stay unique within a thread (the mixer is a bijection), unique across
// threads and restarts with overwhelming probability (random prefix), and do
// not reveal how many requests a worker has served. No locks: thread_local.
struct RequestIdSource {
  uint64_t prefix;
  uint64_t key;
  uint64_t counter = 0;

  RequestIdSource() : prefix(random_u64()), key(random_u64(reinterpret_cast<uintptr_t>(this))) {}

  uint64_t next() { return mix64(++counter + key); }
};

void append_hex64(char* out, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xf];
}

}  // namespace

std::string generate_request_id() {
  thread_local RequestIdSource source;
  char text[32];
  append_hex64(text, source.prefix);
  append_hex64(text + 16, source.next());
  return std::string(text, sizeof text);
}

namespace {

// The series a request updates, found once per thread and route instead of
// rendering and looking up their label sets on every request (~10 k
// instructions per request). Keyed by the calling thread's
// registry (a worker's shard); routes are bounded by the configuration,
// like the series themselves.
class RequestSeries {
 public:
  using Handle = metrics::Registry::Handle;
  // Index 0..5: "other", 1xx..5xx.
  static constexpr size_t kStatusClasses = 6;
  static constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "OTHER"};

  // One route's series, each made on its first use (a route without auth
  // gets no auth-decision series, one never forwarded no upstream timing).
  struct Route {
    std::string name;
    std::array<Handle, kMethods.size() * kStatusClasses> requests;  // method × status class
    Handle auth_allow;                                              // decision allow, reason ok
    Handle duration, upstream, overhead;
  };

  // This thread's series; `registry` is the thread's metrics::global().
  static RequestSeries& of(metrics::Registry& registry) {
    thread_local std::unique_ptr<RequestSeries> current;
    if (!current || current->registry_id_ != registry.id())
      current = std::make_unique<RequestSeries>(registry);
    return *current;
  }

  explicit RequestSeries(metrics::Registry& registry)
      : registry_id_(registry.id()),
        streams_active(registry.handle("mag_downstream_streams_active", metrics::Type::kGauge, {})),
        sse_streams_active(
            registry.handle("mag_downstream_sse_streams_active", metrics::Type::kGauge, {})) {}

  Route& route(const std::string& name) {
    auto it = routes_.find(name);
    if (it == routes_.end()) {
      it = routes_.try_emplace(name).first;
      it->second.name = name;
    }
    return it->second;
  }

  static Handle requests(metrics::Registry& registry, Route& route, std::string_view method,
                         int status) {
    size_t m = 0;
    while (m + 1 < kMethods.size() && kMethods[m] != method) ++m;
    const size_t c = status < 100 || status > 599 ? 0 : static_cast<size_t>(status / 100);
    return lazy(route.requests[m * kStatusClasses + c], registry, "mag_requests_total",
                metrics::Type::kCounter, [&] {
                  return metrics::Labels{{"route", route.name},
                                         {"method", std::string(kMethods[m])},
                                         {"status_class", metrics::status_class(status)}};
                });
  }
  static Handle auth_allow(metrics::Registry& registry, Route& route) {
    return lazy(
        route.auth_allow, registry, "mag_auth_decisions_total", metrics::Type::kCounter, [&] {
          return metrics::Labels{{"route", route.name}, {"decision", "allow"}, {"reason", "ok"}};
        });
  }
  static Handle histogram(metrics::Registry& registry, Route& route, Handle Route::*which,
                          std::string_view family) {
    return lazy(route.*which, registry, family, metrics::Type::kHistogram, [&] {
      return metrics::Labels{{"route", route.name}};
    });
  }

  const uint64_t registry_id_;
  const Handle streams_active;
  const Handle sse_streams_active;

 private:
  template <typename MakeLabels>
  static Handle lazy(Handle& handle, metrics::Registry& registry, std::string_view family,
                     metrics::Type type, MakeLabels labels) {
    if (!handle) handle = registry.handle(family, type, labels());
    return handle;
  }

  std::unordered_map<std::string, Route> routes_;
};

}  // namespace

RequestTelemetry::RequestTelemetry(std::shared_ptr<AccessLogSink> sink) : sink_(std::move(sink)) {
  auto& registry = metrics::global();
  registry.add(RequestSeries::of(registry).streams_active, 1);
}

void RequestTelemetry::on_request(const http::RequestHead& head) {
  started_ = true;
  start_ = std::chrono::steady_clock::now();
  record_.start_time = std::chrono::system_clock::now();
  record_.method = head.method;
  record_.path = head.path;
  const std::string_view* given = head.headers.get("x-request-id");
  record_.request_id = given && is_sane_request_id(*given) ? *given : generate_request_id();
}

void RequestTelemetry::on_auth(bool allowed, std::string_view reason, std::string_view subject,
                               std::string_view client_id) {
  record_.auth_decision = allowed ? "allow" : "deny";
  record_.auth_reason = allowed ? "" : std::string(reason);
  record_.subject = std::string(subject);
  record_.client_id = std::string(client_id);
}

void RequestTelemetry::on_forward() {
  forward_start_ = std::chrono::steady_clock::now();
}

void RequestTelemetry::on_response_head(int status, bool event_stream) {
  record_.status = status;
  if (event_stream && !sse_) {
    sse_ = true;
    auto& registry = metrics::global();
    registry.add(RequestSeries::of(registry).sse_streams_active, 1);
  }
}

void RequestTelemetry::on_local_reply(const http::ResponseHead& head) {
  on_response_head(head.status, false);
  // A reply for lack of an upstream token (a 403: the AS refused this
  // caller's exchange) is no authorization decision of the gateway: the
  // caller's token was valid; upstream_error says what happened.
  if (record_.auth_decision != "allow" || token_failure_) return;
  const std::string_view* challenge = head.headers.get("www-authenticate");
  std::string reason;
  if (challenge && challenge->find("insufficient_scope") != std::string::npos) {
    reason = "insufficient_scope";
  } else if (head.status == 403) {
    reason = "forbidden";
  } else if (head.status == 413) {
    reason = "body_too_large";
  } else if (head.status == 400) {
    reason = "invalid_request";
  } else {
    return;
  }
  record_.auth_decision = "deny";
  record_.auth_reason = reason;
}

void RequestTelemetry::on_response_end() {
  if (!end_) end_ = std::chrono::steady_clock::now();
}

void RequestTelemetry::on_upstream_error(std::string_view upstream, std::string_view kind) {
  // "connect failed" → "connect_failed": label values in metric conventions.
  std::string label(kind);
  for (char& c : label) c = c == ' ' ? '_' : c;
  record_.upstream_error = label;
  metrics::global().counter_add("mag_upstream_errors_total",
                                {{"upstream", std::string(upstream)}, {"kind", label}});
}

void RequestTelemetry::on_upstream_tls_failure(std::string_view upstream, std::string_view reason,
                                               std::string_view detail) {
  on_upstream_error(upstream, "tls");
  record_.upstream_error = "tls: " + std::string(detail);
  metrics::global().counter_add(
      "mag_upstream_tls_failures_total",
      {{"upstream", std::string(upstream)}, {"reason", std::string(reason)}});
}

void RequestTelemetry::on_upstream_token_failure(std::string_view grant, std::string_view reason) {
  record_.upstream_error = "token: " + std::string(grant) + " " + std::string(reason);
  token_failure_ = true;
}

RequestTelemetry::~RequestTelemetry() {
  try {
    finish();
  } catch (...) {
    // A destructor must not throw (allocation failure while formatting).
  }
}

void RequestTelemetry::finish() {
  auto& registry = metrics::global();
  RequestSeries& series = RequestSeries::of(registry);
  registry.add(series.streams_active, -1);
  if (sse_) registry.add(series.sse_streams_active, -1);
  if (!started_) return;
  const auto end = end_.value_or(std::chrono::steady_clock::now());
  record_.duration_seconds = seconds_between(start_, end);
  if (forward_start_) record_.upstream_seconds = seconds_between(*forward_start_, end);
  // 499 (nginx's "client closed request") when the client left before the end.
  if (client_reset_ && !end_) record_.status = record_.status ? record_.status : 499;

  static const std::string kNone = "none";
  const std::string& route = record_.route.empty() ? kNone : record_.route;
  RequestSeries::Route& route_series = series.route(route);
  registry.add(RequestSeries::requests(registry, route_series, record_.method, record_.status));
  if (record_.auth_decision == "allow" && record_.auth_reason.empty()) {
    registry.add(RequestSeries::auth_allow(registry, route_series));
  } else if (!record_.auth_decision.empty()) {
    // Counted at the end: the MCP authorization stage may still turn an
    // authentication "allow" into a deny (see on_local_reply). Denials
    // have many reasons: looked up by label set.
    registry.counter_add("mag_auth_decisions_total",
                         {{"route", route},
                          {"decision", record_.auth_decision},
                          {"reason", record_.auth_reason.empty() ? "ok" : record_.auth_reason}});
  }
  using Route = RequestSeries::Route;
  registry.observe(RequestSeries::histogram(registry, route_series, &Route::duration,
                                            "mag_request_duration_seconds"),
                   record_.duration_seconds);
  if (record_.upstream_seconds) {
    registry.observe(RequestSeries::histogram(registry, route_series, &Route::upstream,
                                              "mag_upstream_duration_seconds"),
                     *record_.upstream_seconds);
    registry.observe(RequestSeries::histogram(registry, route_series, &Route::overhead,
                                              "mag_gateway_overhead_seconds"),
                     std::max(0.0, record_.duration_seconds - *record_.upstream_seconds));
  }
  if (!sink_) return;
  sink_->write_line(sink_->format() == AccessLogFormat::kJson
                        ? format_access_json(record_, sink_->identity())
                        : format_access_text(record_, sink_->identity()));
}

}  // namespace mag::proxy
