#include "proxy/credentials/token_view.h"

namespace mag::credentials {

TokenView::TokenView(std::shared_ptr<ClientCredentialsSource> client_credentials,
                     std::shared_ptr<TokenExchanger> exchanger, Mailbox* main_loop,
                     std::weak_ptr<Mailbox> own_loop)
    : client_credentials_(std::move(client_credentials)),
      exchanger_(std::move(exchanger)),
      main_loop_(main_loop),
      own_loop_(std::move(own_loop)) {}

const std::string& TokenView::upstream() const {
  return exchanger_ ? exchanger_->upstream() : client_credentials_->upstream();
}

TokenLookup TokenView::lookup(std::string_view subject_token, int64_t now_ms, std::string* header,
                              TokenAnswer* failure) {
  TokenLookup result;
  if (exchanger_) {
    result = exchanger_->lookup(ExchangeCache::digest(subject_token), now_ms, header, failure);
  } else {
    bool refresh = false;
    result = client_credentials_->lookup(now_ms, header, failure, &refresh);
    if (refresh) {
      std::weak_ptr<ClientCredentialsSource> weak = client_credentials_;
      main_loop_->post([weak] {
        if (auto source = weak.lock()) source->refresh();
      });
    }
  }
  count(result == TokenLookup::kHit ? kHit : result == TokenLookup::kFailed ? kNegativeHit : kMiss);
  return result;
}

std::unique_ptr<TokenWait> TokenView::obtain(std::string_view subject_token,
                                             int64_t subject_expires_at,
                                             std::function<void(const TokenAnswer&)> done) {
  auto pending = std::make_shared<TokenWait::Pending>(TokenWait::Pending{std::move(done)});
  // Only weak pointers cross threads: the Pending is created, run and
  // destroyed on this thread; the source is locked on the main loop.
  std::weak_ptr<TokenWait::Pending> weak_pending = pending;
  std::weak_ptr<Mailbox> back = own_loop_;
  auto resume = [weak_pending, back](const TokenAnswer& answer) {
    if (auto mailbox = back.lock()) {
      mailbox->post([weak_pending, answer] {
        if (auto waiting = weak_pending.lock()) waiting->done(answer);
      });
    }
  };
  if (exchanger_) {
    std::weak_ptr<TokenExchanger> weak = exchanger_;
    // Hashed again: a miss waits for the AS anyway, and the view keeps no
    // per-request state between lookup() and obtain().
    main_loop_->post([weak, resume, key = ExchangeCache::digest(subject_token),
                      subject = std::string(subject_token), subject_expires_at]() mutable {
      if (auto exchanger = weak.lock()) {
        exchanger->obtain(std::move(subject), key, subject_expires_at, resume);
      } else {
        resume(TokenAnswer{TokenAnswer::Outcome::kUnavailable, {}, "reloaded"});
      }
    });
  } else {
    std::weak_ptr<ClientCredentialsSource> weak = client_credentials_;
    main_loop_->post([weak, resume] {
      if (auto source = weak.lock()) {
        source->obtain(resume);
      } else {
        resume(TokenAnswer{TokenAnswer::Outcome::kUnavailable, {}, "reloaded"});
      }
    });
  }
  return std::make_unique<TokenWait>(std::move(pending));
}

void TokenView::count(Counter counter) {
  metrics::Registry& registry = metrics::global();
  if (series_registry_ != registry.id()) {
    // The series made together, so that each shows from the first lookup.
    static constexpr std::array<const char*, kCounters> kResults = {"hit", "negative_hit", "miss"};
    for (size_t i = kHit; i < kCounters; ++i) {
      series_[i] = registry.handle("mag_upstream_token_cache_total", metrics::Type::kCounter,
                                   {{"upstream", upstream()}, {"result", kResults[i]}});
    }
    series_registry_ = registry.id();
  }
  registry.add(series_[counter]);
}

}  // namespace mag::credentials
