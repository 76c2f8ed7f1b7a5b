// One worker thread's handle on a KeyProvider. The provider
// lives on the main loop; each worker has one view per provider, holding
//   - the worker's own verified-token cache (token_cache.h): the hit path
//     reads the published keys (one atomic shared_ptr load) and touches
//     only this worker's cache, so it takes no lock;
//   - the waits for keys (first fetch, unknown kid), marshalled to the
//     provider's loop through its Mailbox; the answer comes back through
//     the worker's Mailbox, so no thread calls into another thread's base.
// A view is used from one thread only (its own loop). The gateway keeps a
// view across reloads while its KeyProvider is carried over, and with it
// the cached tokens.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "common/core/event_loop.h"
#include "proxy/auth/key_provider.h"
#include "proxy/auth/token_cache.h"
#include "proxy/telemetry/metrics.h"

namespace mag::auth {

// A pending wait for keys; destroying it cancels the callback. Lives on the
// view's thread, like the callback it guards.
class KeyWait {
 public:
  struct Pending {
    std::function<void()> done;
  };
  explicit KeyWait(std::shared_ptr<Pending> pending) : pending_(std::move(pending)) {}
  KeyWait(const KeyWait&) = delete;
  KeyWait& operator=(const KeyWait&) = delete;

 private:
  std::shared_ptr<Pending> pending_;  // the marshalled callback holds a weak_ptr
};

// The verification context a cached result is valid for: the same token may
// be good for one route's resource and not for another's (its audiences).
std::string token_cache_context(const VerifyPolicy& policy);

class ProviderView {
 public:
  // `provider_loop`: the provider's loop (outlives the view). `own_loop`: the
  // loop of the thread that uses this view.
  ProviderView(std::shared_ptr<KeyProvider> provider, Mailbox* provider_loop,
               std::weak_ptr<Mailbox> own_loop, TokenCacheLimits limits = {});

  const std::string& name() const { return provider_->name(); }
  const config::Provider& config() const { return provider_->config(); }
  // The provider's current keys through this thread's copy: one atomic
  // load while they have not changed (KeyProvider::keys_generation).
  const std::shared_ptr<const KeySet>& keys();
  const std::shared_ptr<KeyProvider>& provider() const { return provider_; }

  // verify_jwt against the current keys, through this thread's cache.
  // Requires keys() to be non-null.
  VerifyResult verify(std::string_view token, const VerifyPolicy& policy, int64_t now_seconds);
  // The same with `cache_context` = token_cache_context(policy), made once
  // by the caller (per snapshot and route) instead of per request.
  VerifyResult verify(std::string_view token, const VerifyPolicy& policy,
                      std::string_view cache_context, int64_t now_seconds);
  TokenCache& cache() { return cache_; }

  // nullptr: proceed now (keys are there, or no fetch in progress). Else
  // `done` runs on this thread's loop when the first fetch has finished.
  std::unique_ptr<KeyWait> wait_for_first_keys(std::function<void()> done);
  // nullptr: rejected now (rate-limited, or a file). Else `done` runs on
  // this thread's loop after the refetch (or at once, from the loop, when
  // the provider's loop finds it rate-limited after all).
  std::unique_ptr<KeyWait> refresh_for_unknown_kid(std::function<void()> done);

 private:
  using Operation = bool (KeyProvider::*)(std::function<void()>);
  std::unique_ptr<KeyWait> marshal(Operation operation, std::function<void()> done);

  // The provider's token counters, through series found once per registry
  // (the thread's metrics shard) instead of rendering labels per request:
  // mag_token_cache_lookups_total{result} (its three series made together,
  // so they show from the first lookup), and the counters of a miss,
  // mag_token_signature_verifications_total{result} and
  // mag_token_cache_evictions_total (each made when first counted).
  enum Counter : size_t {
    kHit,
    kNegativeHit,
    kMiss,
    kGoodSignature,
    kBadSignature,
    kEviction,
    kCounters
  };
  void count(Counter counter, double value = 1);

  std::shared_ptr<KeyProvider> provider_;
  Mailbox* provider_loop_;
  std::weak_ptr<Mailbox> own_loop_;
  TokenCache cache_;
  std::shared_ptr<const KeySet> keys_;       // this thread's copy of the provider's keys
  uint64_t keys_generation_ = 0;             // the provider's generation keys_ is of
  std::shared_ptr<const KeySet> seen_keys_;  // the set cache_ was last trimmed for
  uint64_t series_registry_ = 0;             // metrics::Registry::id() of series_
  std::array<metrics::Registry::Handle, kCounters> series_{};  // by Counter
};

}  // namespace mag::auth
