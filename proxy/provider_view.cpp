#include "proxy/provider_view.h"

#include "proxy/metrics.h"

namespace mag::auth {
namespace {

// Refusals that the same token will get again (for this provider and these
// audiences) for at least the negative TTL, and that cost a signature check
// to reach: worth a negative entry. Not "not yet valid" / "issued in the
// future": those tokens become good with time. The cheap refusals (malformed,
// algorithm, unknown kid...) are decided before any signature work.
bool remember_refusal(Reason reason) {
  switch (reason) {
    case Reason::kBadSignature:
    case Reason::kExpired:
    case Reason::kWrongIssuer:
    case Reason::kWrongAudience:
    case Reason::kMissingClaim:
    case Reason::kInvalidClaim:
    case Reason::kLifetimeTooLong:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string token_cache_context(const VerifyPolicy& policy) {
  std::string context;
  for (const auto& aud : policy.audiences) {
    context += aud;
    context += '\n';
  }
  return context;
}

ProviderView::ProviderView(std::shared_ptr<KeyProvider> provider, Mailbox* provider_loop,
                           std::weak_ptr<Mailbox> own_loop, TokenCacheLimits limits)
    : provider_(std::move(provider)),
      provider_loop_(provider_loop),
      own_loop_(std::move(own_loop)),
      cache_(limits) {}

const std::shared_ptr<const KeySet>& ProviderView::keys() {
  const uint64_t generation = provider_->keys_generation();
  if (generation != keys_generation_) {
    keys_ = provider_->keys();  // this generation's set or a newer one
    keys_generation_ = generation;
  }
  return keys_;
}

VerifyResult ProviderView::verify(std::string_view token, const VerifyPolicy& policy,
                                  int64_t now_seconds) {
  return verify(token, policy, token_cache_context(policy), now_seconds);
}

VerifyResult ProviderView::verify(std::string_view token, const VerifyPolicy& policy,
                                  std::string_view cache_context, int64_t now_seconds) {
  const std::shared_ptr<const KeySet> keys = this->keys();
  if (keys != seen_keys_) {
    // A key that left the set takes its cached tokens with it.
    std::set<std::string> fingerprints;
    for (const auto& key : keys->keys()) fingerprints.insert(key.fingerprint);
    cache_.retain_keys(fingerprints);
    seen_keys_ = keys;
  }
  // Oversized tokens are rejected by verify_jwt without hashing them.
  if (token.size() > policy.max_token_bytes) return verify_jwt(token, *keys, policy, now_seconds);
  std::string key = TokenCache::cache_key(token, cache_context);
  if (auto claims = cache_.find(key, now_seconds)) {
    count_lookup(kHit);
    VerifyResult hit;
    hit.reason = Reason::kOk;
    hit.claims = std::move(*claims);
    return hit;
  }
  if (auto reason = cache_.known_bad(key, now_seconds)) {
    count_lookup(kNegativeHit);
    VerifyResult bad;
    bad.reason = *reason;
    return bad;
  }
  count_lookup(kMiss);
  VerifyResult result = verify_jwt(token, *keys, policy, now_seconds);
  // verify_jwt checks a signature only after the cheap checks passed: then
  // it either fails (bad_signature) or names the key that verified it.
  if (result.reason == Reason::kBadSignature || !result.key_fingerprint.empty())
    count_miss(result.key_fingerprint.empty() ? kBadSignature : kGoodSignature);
  if (result.ok()) {
    if (size_t evicted = cache_.insert(std::move(key), result.claims, result.key_fingerprint,
                                       policy.clock_skew_seconds, now_seconds)) {
      count_miss(kEviction, static_cast<double>(evicted));
    }
  } else if (remember_refusal(result.reason)) {
    cache_.insert_bad(key, now_seconds, result.reason);
  }
  return result;
}

// mag_token_cache_lookups_total (docs/operations.md): handles made once per
// registry, so a lookup costs one increment.
void ProviderView::count_lookup(Lookup lookup) {
  metrics::Registry& registry = metrics::global();
  if (lookup_registry_ != registry.id()) {
    static constexpr std::array<std::string_view, 3> kLabels = {"hit", "negative_hit", "miss"};
    for (size_t i = 0; i < kLabels.size(); ++i) {
      lookup_series_[i] =
          registry.handle("mag_token_cache_lookups_total", metrics::Type::kCounter,
                          {{"provider", name()}, {"result", std::string(kLabels[i])}});
    }
    lookup_registry_ = registry.id();
  }
  registry.add(lookup_series_[lookup]);
}

// mag_token_signature_verifications_total (REL-CLI-07) and
// mag_token_cache_evictions_total, through handles like count_lookup's.
void ProviderView::count_miss(MissCounter counter, double value) {
  metrics::Registry& registry = metrics::global();
  if (miss_registry_ != registry.id()) {
    miss_series_ = {};
    miss_registry_ = registry.id();
  }
  metrics::Registry::Handle& series = miss_series_[counter];
  if (!series) {
    if (counter == kEviction) {
      series = registry.handle("mag_token_cache_evictions_total", metrics::Type::kCounter,
                               {{"provider", name()}});
    } else {
      series = registry.handle(
          "mag_token_signature_verifications_total", metrics::Type::kCounter,
          {{"provider", name()}, {"result", counter == kGoodSignature ? "good" : "bad"}});
    }
  }
  registry.add(series, value);
}

std::unique_ptr<KeyWait> ProviderView::wait_for_first_keys(std::function<void()> done) {
  // fetching() first: it turns false only after the keys are installed, so
  // keys read after "no fetch in progress" are the fetch's.
  const bool fetching = provider_->fetching();
  if (keys() || !fetching) return nullptr;
  return marshal(&KeyProvider::wait_for_first_keys, std::move(done));
}

std::unique_ptr<KeyWait> ProviderView::refresh_for_unknown_kid(std::function<void()> done) {
  // The common rejection (a flood of made-up kids) is decided here, without
  // a round trip to the provider's loop.
  if (!provider_->unknown_kid_refetch_allowed()) return nullptr;
  return marshal(&KeyProvider::refresh_for_unknown_kid, std::move(done));
}

std::unique_ptr<KeyWait> ProviderView::marshal(Operation operation, std::function<void()> done) {
  auto pending = std::make_shared<KeyWait::Pending>(KeyWait::Pending{std::move(done)});
  // Only weak pointers cross threads: the Pending is created, run and
  // destroyed on this thread; the provider is locked on its own loop.
  std::weak_ptr<KeyWait::Pending> weak_pending = pending;
  std::weak_ptr<KeyProvider> weak_provider = provider_;
  std::weak_ptr<Mailbox> back = own_loop_;
  provider_loop_->post([operation, weak_pending, weak_provider, back] {
    auto resume = [weak_pending, back] {
      if (auto mailbox = back.lock()) {
        mailbox->post([weak_pending] {
          if (auto pending = weak_pending.lock()) pending->done();
        });
      }
    };
    auto provider = weak_provider.lock();
    if (!provider || !((*provider).*operation)(resume)) resume();
  });
  return std::make_unique<KeyWait>(std::move(pending));
}

}  // namespace mag::auth
