// The verification keys of one provider: read from a JWKS file, or fetched
// from jwks_uri (http or verified https) and refreshed on a timer. Without
// either, jwks_uri is discovered from the issuer's metadata (OpenID
// Connect Discovery, then RFC 8414). A failed or malformed fetch keeps the
// last good keys. Requests that arrive before the first keys wait for them;
// a token with an unknown kid may trigger one rate-limited refetch.
//
// Threads: a KeyProvider lives on the main thread's loop
// (fetches, timers, waiters, its status for the admin endpoints). The keys
// it installs are published under a mutex with a generation counter:
// keys(), keys_generation(), fetching() and unknown_kid_refetch_allowed()
// may be called from any thread; every
// other member only on the provider's loop. Worker threads use a provider
// through a ProviderView (proxy/auth/provider_view.h), which holds the worker's
// own verified-token cache and marshals waits to this loop. The last
// reference must be released on the provider's loop (its events belong to
// that base): the gateway releases snapshots there.
#pragma once

#include <event2/event.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/c_handles.h"
#include "common/fetch/http_fetch.h"
#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/config/config.h"

namespace mag::auth {

class KeyProvider : public std::enable_shared_from_this<KeyProvider> {
 public:
  static std::shared_ptr<KeyProvider> create(event_base* base, const config::Provider& provider);
  ~KeyProvider();

  // Loads the file or starts the first fetch.
  void start();

  // The current keys; null until the first successful load. Any thread.
  std::shared_ptr<const KeySet> keys() const;
  // Goes up by one after each install (0: no keys yet). A reader that sees
  // the generation it saw before may keep the set it took then, without
  // the lock (ProviderView does, on every request). Any thread.
  uint64_t keys_generation() const { return keys_generation_.load(std::memory_order_acquire); }
  // A fetch (or discovery) is in progress. Any thread.
  bool fetching() const { return fetching_.load(); }
  // An unknown kid would trigger a refetch now (not rate-limited, not a
  // file). Any thread; refresh_for_unknown_kid() decides for good.
  bool unknown_kid_refetch_allowed() const;
  const std::string& name() const { return config_.name; }
  const config::Provider& config() const { return config_; }
  const std::string& last_error() const { return last_error_; }

  // For the admin endpoints and metrics. Wall-clock times;
  // a default time_point means "never".
  struct FetchStatus {
    std::chrono::system_clock::time_point last_attempt{};
    std::chrono::system_clock::time_point last_success{};
    std::chrono::system_clock::time_point next_refresh{};
    std::string last_result;  // "ok" or the error; empty before the first attempt
  };
  const FetchStatus& fetch_status() const { return fetch_status_; }

  // Provider loop only. True when `done` will run (from this loop) once the
  // fetch in progress finishes; false, without calling it, when there are
  // keys or no fetch is in progress: the caller proceeds at once. A `done`
  // is dropped uncalled if the provider is destroyed first; callers that
  // may go away first make `done` check that they are still there
  // (ProviderView does).
  bool wait_for_first_keys(std::function<void()> done);
  // A token named a kid we do not have. Refetches at most once per
  // `kUnknownKidInterval` (single flight); false when rate-limited, so the
  // caller rejects the token now. True: `done` runs after the fetch.
  bool refresh_for_unknown_kid(std::function<void()> done);

  static constexpr std::chrono::seconds kUnknownKidInterval{30};
  // Lower bound for a Cache-Control max-age driven refresh.
  static constexpr std::chrono::seconds kMinMaxAgeRefresh{60};

  // The JWKS URL in use: configured or discovered; empty before discovery.
  const std::string& jwks_uri() const { return jwks_uri_; }

 private:
  KeyProvider(event_base* base, config::Provider provider);
  void fetch();
  void discover(size_t attempt);
  void on_discovered(size_t attempt, http::FetchResult result);
  void on_fetched(http::FetchResult result);
  void fetch_failed(const std::string& error);
  void install(std::shared_ptr<const KeySet> keys);
  http::FetchOptions fetch_options() const;
  void schedule_refresh(std::chrono::milliseconds delay);
  void notify_waiters();
  void update_fetching() { fetching_.store(static_cast<bool>(fetch_)); }
  static void on_timer(evutil_socket_t, short, void* self);

  event_base* base_;
  config::Provider config_;
  // Written on the provider's loop, read from any thread. Not
  // std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its
  // internal lock with a relaxed store, a data race that TSan reports
  // (google/sanitizers#1558; REL-JWKS-13/14 under build-*-tsan).
  mutable std::mutex keys_mutex_;
  std::shared_ptr<const KeySet> keys_;  // guarded by keys_mutex_
  std::atomic<uint64_t> keys_generation_{0};
  std::atomic<bool> fetching_{false};
  std::atomic<int64_t> last_unknown_kid_fetch_ns_{0};  // steady_clock; 0 = never
  std::string jwks_uri_;
  std::string last_error_;
  FetchStatus fetch_status_;
  void record_attempt(bool ok, const std::string& error);
  std::unique_ptr<http::Fetch> fetch_;
  EventPtr timer_;
  std::chrono::milliseconds backoff_{0};
  std::vector<std::function<void()>> waiters_;
};

// Pure helpers (exposed for tests).
// OpenID Connect Discovery URL, then the RFC 8414 path-inserted one.
std::vector<std::string> discovery_urls(const std::string& issuer);
// jwks_uri from an authorization-server metadata document, after checking
// that its `issuer` equals `issuer` byte for byte and that jwks_uri is https
// (http only when the issuer itself is http://localhost or http://127.0.0.1).
// An endpoint URL (`member`: "jwks_uri", "token_endpoint") from an
// authorization-server metadata document, with the same checks.
bool endpoint_from_metadata(const std::string& document, const std::string& issuer,
                            std::string_view member, std::string* endpoint, std::string* error);
bool jwks_uri_from_metadata(const std::string& document, const std::string& issuer,
                            std::string* jwks_uri, std::string* error);
// The refresh interval: the configured one, shortened by a Cache-Control
// max-age (or no-cache/no-store, as 0) down to kMinMaxAgeRefresh at most.
std::chrono::seconds refresh_interval(std::chrono::seconds configured,
                                      const std::string& cache_control);

}  // namespace mag::auth
