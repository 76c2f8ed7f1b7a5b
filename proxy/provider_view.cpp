#include "proxy/provider_view.h"

#include "proxy/metrics.h"

namespace mag::auth {
namespace {

// The verification context a cached result is valid for: the same token may
// be good for one route's resource and not for another's.
std::string cache_context(const VerifyPolicy& policy) {
  std::string context;
  for (const auto& aud : policy.audiences) {
    context += aud;
    context += '\n';
  }
  return context;
}

}  // namespace

ProviderView::ProviderView(std::shared_ptr<KeyProvider> provider, Mailbox* provider_loop,
                           std::weak_ptr<Mailbox> own_loop, TokenCacheLimits limits)
    : provider_(std::move(provider)),
      provider_loop_(provider_loop),
      own_loop_(std::move(own_loop)),
      cache_(limits) {}

VerifyResult ProviderView::verify(std::string_view token, const VerifyPolicy& policy,
                                  int64_t now_seconds) {
  std::shared_ptr<const KeySet> keys = provider_->keys();
  if (keys != seen_keys_) {
    // A key that left the set takes its cached tokens with it.
    std::set<std::string> fingerprints;
    for (const auto& key : keys->keys()) fingerprints.insert(key.fingerprint);
    cache_.retain_keys(fingerprints);
    seen_keys_ = keys;
  }
  // Oversized tokens are rejected by verify_jwt without hashing them.
  if (token.size() > policy.max_token_bytes) return verify_jwt(token, *keys, policy, now_seconds);
  const std::string key = TokenCache::cache_key(token, cache_context(policy));
  auto count = [this](const char* result) {  // mag_token_cache_lookups_total (ops)
    metrics::global().counter_add("mag_token_cache_lookups_total",
                                  {{"provider", name()}, {"result", result}});
  };
  if (auto claims = cache_.find(key, now_seconds)) {
    count("hit");
    VerifyResult hit;
    hit.reason = Reason::kOk;
    hit.claims = std::move(*claims);
    return hit;
  }
  if (cache_.known_bad(key, now_seconds)) {
    count("negative_hit");
    VerifyResult bad;
    bad.reason = Reason::kBadSignature;
    return bad;
  }
  count("miss");
  VerifyResult result = verify_jwt(token, *keys, policy, now_seconds);
  if (result.ok()) {
    cache_.insert(key, result.claims, result.key_fingerprint, policy.clock_skew_seconds,
                  now_seconds);
  } else if (result.reason == Reason::kBadSignature) {
    cache_.insert_bad(key, now_seconds);
  }
  return result;
}

std::unique_ptr<KeyWait> ProviderView::wait_for_first_keys(std::function<void()> done) {
  if (provider_->keys() || !provider_->fetching()) return nullptr;
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
