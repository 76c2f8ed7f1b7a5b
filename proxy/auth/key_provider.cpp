#include "proxy/auth/key_provider.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "common/core/log.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/telemetry/metrics.h"

namespace mag::auth {
namespace {
constexpr std::chrono::milliseconds kMinBackoff{1000};
constexpr std::chrono::milliseconds kMaxBackoff{300000};
constexpr size_t kMaxJwksFileBytes = 1 << 20;

bool read_small_file(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  if (out->size() > kMaxJwksFileBytes) {
    *error = path + " is larger than 1 MiB";
    return false;
  }
  return true;
}

bool is_loopback_http(const std::string& url) {
  http::ParsedUrl parsed;
  return http::parse_url(url, &parsed) && parsed.scheme == "http" &&
         (parsed.host == "localhost" || parsed.host == "127.0.0.1" || parsed.host == "::1");
}

int64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

std::shared_ptr<KeyProvider> KeyProvider::create(event_base* base,
                                                 const config::Provider& provider) {
  return std::shared_ptr<KeyProvider>(new KeyProvider(base, provider));
}

KeyProvider::KeyProvider(event_base* base, config::Provider provider)
    : base_(base), config_(std::move(provider)), jwks_uri_(config_.jwks_uri) {
  timer_.reset(evtimer_new(base_, &KeyProvider::on_timer, this));
}

KeyProvider::~KeyProvider() = default;

void KeyProvider::start() {
  if (!config_.jwks_file.empty()) {
    std::string text, error;
    if (!read_small_file(config_.jwks_file, &text, &error)) {
      last_error_ = error;
      record_attempt(false, error);
      log::error("jwks", "provider " + config_.name + ": " + error);
      return;
    }
    JwksParseResult parsed = parse_jwks(text);
    if (!parsed.keys) {
      last_error_ = parsed.error;
      record_attempt(false, parsed.error);
      log::error("jwks",
                 "provider " + config_.name + ": " + config_.jwks_file + ": " + parsed.error);
      return;
    }
    install(parsed.keys);
    record_attempt(true, "");
    log::info("jwks", "provider " + config_.name + ": " +
                          std::to_string(parsed.keys->keys().size()) + " key(s) from " +
                          config_.jwks_file);
    return;
  }
  fetch();
}

http::FetchOptions KeyProvider::fetch_options() const {
  http::FetchOptions options;
  options.max_body_bytes = kMaxJwksBytes;
  options.ca_file = config_.ca_file;
  return options;
}

void KeyProvider::install(std::shared_ptr<const KeySet> keys) {
  // Each worker's token cache notices the new set on its next use
  // (ProviderView::verify) and drops the entries of keys that left it.
  for (const auto& skipped : keys->skipped) {
    log::warn("jwks", "provider " + config_.name + ": skipped " + log::sanitize(skipped));
  }
  {
    std::lock_guard lock(keys_mutex_);
    keys_ = std::move(keys);
  }
  // After the set: a reader that sees the new generation finds it.
  keys_generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const KeySet> KeyProvider::keys() const {
  std::lock_guard lock(keys_mutex_);
  return keys_;
}

void KeyProvider::fetch() {
  if (fetch_) return;  // single flight
  if (jwks_uri_.empty()) return discover(0);
  std::weak_ptr<KeyProvider> weak = weak_from_this();
  fetch_ = http::http_get(base_, jwks_uri_, fetch_options(), [weak](http::FetchResult result) {
    if (auto self = weak.lock()) self->on_fetched(std::move(result));
  });
  update_fetching();
}

void KeyProvider::discover(size_t attempt) {
  const std::vector<std::string> urls = discovery_urls(config_.issuer);
  std::weak_ptr<KeyProvider> weak = weak_from_this();
  fetch_ = http::http_get(base_, urls.at(attempt), fetch_options(),
                          [weak, attempt](http::FetchResult result) {
                            if (auto self = weak.lock())
                              self->on_discovered(attempt, std::move(result));
                          });
  update_fetching();
}

void KeyProvider::on_discovered(size_t attempt, http::FetchResult result) {
  // fetching() stays true into the next step (discover or fetch), or until
  // fetch_failed: see on_fetched.
  fetch_.reset();
  const std::vector<std::string> urls = discovery_urls(config_.issuer);
  std::string error;
  if (!result.ok) {
    error = result.error;
  } else if (result.status != 200) {
    error = "HTTP status " + std::to_string(result.status);
  } else if (jwks_uri_from_metadata(result.body, config_.issuer, &jwks_uri_, &error)) {
    log::info("jwks", "provider " + config_.name + ": discovered jwks_uri " +
                          log::sanitize(jwks_uri_) + " from " + urls[attempt]);
    return fetch();
  }
  error = "discovery at " + urls[attempt] + ": " + error;
  // Only "not there" moves on to the RFC 8414 document; a bad document does not.
  if (attempt + 1 < urls.size() && result.ok && result.status == 404) {
    log::info("jwks", "provider " + config_.name + ": " + log::sanitize(error) + ", trying " +
                          urls[attempt + 1]);
    return discover(attempt + 1);
  }
  fetch_failed(error);
}

void KeyProvider::on_fetched(http::FetchResult result) {
  // fetching() goes false only once the keys are installed (or the fetch
  // has failed): a worker that reads no keys and no fetch in progress
  // refuses the token (ProviderView::wait_for_first_keys), so it must never
  // see that while the first keys are being parsed
  // (tests/unit/proxy/auth/test_key_provider.cpp).
  fetch_.reset();
  std::string error;
  if (!result.ok) {
    error = result.error;
  } else if (result.status != 200) {
    // Redirects included: a JWKS URL that moves is a configuration matter.
    error = "HTTP status " + std::to_string(result.status);
  } else {
    JwksParseResult parsed = parse_jwks(result.body);
    if (parsed.keys) {
      install(parsed.keys);
      update_fetching();
      last_error_.clear();
      record_attempt(true, "");
      backoff_ = std::chrono::milliseconds{0};
      const auto interval = refresh_interval(config_.jwks_refresh, result.cache_control);
      log::info("jwks", "provider " + config_.name + ": " +
                            std::to_string(parsed.keys->keys().size()) + " key(s) from " +
                            log::sanitize(jwks_uri_) + ", next refresh in " +
                            std::to_string(interval.count()) + " s");
      schedule_refresh(interval);
      notify_waiters();
      return;
    }
    error = parsed.error;
  }
  fetch_failed(error);
}

void KeyProvider::fetch_failed(const std::string& error) {
  // Keep the last good keys; retry with exponential backoff.
  last_error_ = error;
  update_fetching();
  record_attempt(false, error);
  backoff_ = std::min(kMaxBackoff, std::max(kMinBackoff, backoff_ * 2));
  log::warn("jwks", "provider " + config_.name + ": fetch failed (" + log::sanitize(error) +
                        "), keeping " + (keys() ? "the last good keys" : "no keys") +
                        ", retry in " + std::to_string(backoff_.count()) + " ms");
  schedule_refresh(std::min(
      backoff_, std::chrono::duration_cast<std::chrono::milliseconds>(config_.jwks_refresh)));
  notify_waiters();
}

void KeyProvider::record_attempt(bool ok, const std::string& error) {
  const auto now = std::chrono::system_clock::now();
  fetch_status_.last_attempt = now;
  if (ok) fetch_status_.last_success = now;
  fetch_status_.last_result = ok ? "ok" : error;
  metrics::global().counter_add("mag_jwks_fetches_total", {{"provider", config_.name},
                                                           {"result", ok ? "success" : "failure"}});
}

void KeyProvider::schedule_refresh(std::chrono::milliseconds delay) {
  fetch_status_.next_refresh =
      std::chrono::system_clock::now() +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(delay);
  timeval tv{static_cast<time_t>(delay.count() / 1000),
             static_cast<suseconds_t>((delay.count() % 1000) * 1000)};
  evtimer_add(timer_.get(), &tv);
}

void KeyProvider::on_timer(evutil_socket_t, short, void* self) {
  static_cast<KeyProvider*>(self)->fetch();
}

void KeyProvider::notify_waiters() {
  // Callbacks may add waiters: take the current set first.
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& done : waiters) done();
}

bool KeyProvider::wait_for_first_keys(std::function<void()> done) {
  if (keys() || !fetch_) return false;
  waiters_.push_back(std::move(done));
  return true;
}

bool KeyProvider::unknown_kid_refetch_allowed() const {
  if (!config_.jwks_file.empty()) return false;  // a file does not change under us
  if (fetching()) return true;                   // joins the fetch in progress
  const int64_t last = last_unknown_kid_fetch_ns_.load();
  return last == 0 ||
         steady_ns(std::chrono::steady_clock::now()) - last >=
             std::chrono::duration_cast<std::chrono::nanoseconds>(kUnknownKidInterval).count();
}

bool KeyProvider::refresh_for_unknown_kid(std::function<void()> done) {
  if (!config_.jwks_file.empty()) return false;
  if (!fetch_) {
    if (!unknown_kid_refetch_allowed()) return false;
    last_unknown_kid_fetch_ns_.store(steady_ns(std::chrono::steady_clock::now()));
    fetch();
  }
  waiters_.push_back(std::move(done));
  return true;
}

std::vector<std::string> discovery_urls(const std::string& issuer) {
  std::string trimmed = issuer;
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
  std::vector<std::string> urls{trimmed + "/.well-known/openid-configuration"};
  // RFC 8414 §3.1: the well-known segment goes between the host and the path.
  const size_t scheme = trimmed.find("://");
  const size_t path =
      scheme == std::string::npos ? std::string::npos : trimmed.find('/', scheme + 3);
  if (path == std::string::npos) {
    urls.push_back(trimmed + "/.well-known/oauth-authorization-server");
  } else {
    urls.push_back(trimmed.substr(0, path) + "/.well-known/oauth-authorization-server" +
                   trimmed.substr(path));
  }
  return urls;
}

bool endpoint_from_metadata(const std::string& document, const std::string& issuer,
                            std::string_view member, std::string* endpoint, std::string* error) {
  JsonPtr root = parse_json_object(document);
  if (!root) {
    *error = "metadata is not a JSON object (or has duplicate members)";
    return false;
  }
  json_t* iss = json_object_get(root.get(), "issuer");
  // OIDC Discovery §4.3 / RFC 8414 §3.3: exactly the configured issuer.
  if (!json_is_string(iss) ||
      std::string_view(json_string_value(iss), json_string_length(iss)) != issuer) {
    *error = "metadata issuer does not equal the configured issuer";
    return false;
  }
  const std::string name(member);
  json_t* uri = json_object_get(root.get(), name.c_str());
  if (!json_is_string(uri)) {
    *error = "metadata has no " + name + " string";
    return false;
  }
  const std::string value(json_string_value(uri), json_string_length(uri));
  http::ParsedUrl parsed;
  if (!http::parse_url(value, &parsed)) {
    *error = "metadata " + name + " is not a valid URL";
    return false;
  }
  if (parsed.scheme != "https" && !(is_loopback_http(issuer) && is_loopback_http(value))) {
    *error = "metadata " + name + " is not https";
    return false;
  }
  *endpoint = value;
  return true;
}

bool jwks_uri_from_metadata(const std::string& document, const std::string& issuer,
                            std::string* jwks_uri, std::string* error) {
  return endpoint_from_metadata(document, issuer, "jwks_uri", jwks_uri, error);
}

std::chrono::seconds refresh_interval(std::chrono::seconds configured,
                                      const std::string& cache_control) {
  std::optional<int64_t> max_age;
  size_t start = 0;
  while (start <= cache_control.size()) {
    size_t end = cache_control.find(',', start);
    if (end == std::string::npos) end = cache_control.size();
    std::string directive = cache_control.substr(start, end - start);
    directive.erase(0, directive.find_first_not_of(" \t"));
    directive.erase(directive.find_last_not_of(" \t") + 1);
    for (char& c : directive) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (directive == "no-cache" || directive == "no-store") {
      max_age = 0;
    } else if (directive.starts_with("max-age=") && !max_age) {
      int64_t value = 0;
      const char* first = directive.data() + 8;
      const char* last = directive.data() + directive.size();
      auto [p, ec] = std::from_chars(first, last, value);
      if (ec == std::errc() && p == last && value >= 0) max_age = value;
      if (ec == std::errc::result_out_of_range) max_age = std::numeric_limits<int64_t>::max();
    }
    start = end + 1;
  }
  if (!max_age) return configured;
  // The configured interval stays the upper bound (key removals are noticed
  // in time); the server may only ask for more frequent refreshes, and not
  // more often than once a minute.
  const int64_t bounded = std::max<int64_t>(*max_age, KeyProvider::kMinMaxAgeRefresh.count());
  return std::min(configured, std::chrono::seconds(bounded));
}

}  // namespace mag::auth
