#include "proxy/auth/provider_view.h"

#include "proxy/telemetry/metrics.h"

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
    count(kHit);
    VerifyResult hit;
    hit.reason = Reason::kOk;
    hit.claims = std::move(*claims);
    return hit;
  }
  if (auto reason = cache_.known_bad(key, now_seconds)) {
    count(kNegativeHit);
    VerifyResult bad;
    bad.reason = *reason;
    return bad;
  }
  count(kMiss);
  VerifyResult result = verify_jwt(token, *keys, policy, now_seconds);
  // verify_jwt checks a signature only after the cheap checks passed: then
  // it either fails (bad_signature) or names the key that verified it.
  if (result.reason == Reason::kBadSignature || !result.key_fingerprint.empty())
    count(result.key_fingerprint.empty() ? kBadSignature : kGoodSignature);
  if (result.ok()) {
    if (size_t evicted = cache_.insert(std::move(key), result.claims, result.key_fingerprint,
                                       policy.clock_skew_seconds, now_seconds)) {
      count(kEviction, static_cast<double>(evicted));
    }
  } else if (remember_refusal(result.reason)) {
    cache_.insert_bad(key, now_seconds, result.reason);
  }
  return result;
}

// docs/operations.md: one increment per count once the series exist.
void ProviderView::count(Counter counter, double value) {
  struct Series {
    std::string_view metric;
    std::string_view result;  // empty: no result label
  };
  static constexpr std::array<Series, kCounters> kSeries = {{
      {"mag_token_cache_lookups_total", "hit"},
      {"mag_token_cache_lookups_total", "negative_hit"},
      {"mag_token_cache_lookups_total", "miss"},
      {"mag_token_signature_verifications_total", "good"},
      {"mag_token_signature_verifications_total", "bad"},
      {"mag_token_cache_evictions_total", ""},
  }};
  metrics::Registry& registry = metrics::global();
  auto make = [&](size_t i) {
    metrics::Labels labels = {{"provider", name()}};
    if (!kSeries[i].result.empty()) labels.emplace_back("result", std::string(kSeries[i].result));
    series_[i] = registry.handle(kSeries[i].metric, metrics::Type::kCounter, labels);
  };
  if (series_registry_ != registry.id()) {
    series_ = {};
    for (size_t i = kHit; i <= kMiss; ++i) make(i);
    series_registry_ = registry.id();
  }
  if (!series_[counter]) make(counter);
  registry.add(series_[counter], value);
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
