// One worker thread's handle on an upstream's token source (its
// ClientCredentialsSource or its TokenExchanger, both on the main loop).
//   - lookup(): the hit path, on the worker's thread: the source's
//     published token through one lock and a map lookup, the subject token
//     hashed once; counts mag_upstream_token_cache_total{upstream,result}
//     (hit: a token; negative_hit: a remembered failure answered at once;
//     miss) through series found once per metrics registry. A
//     client_credentials hit that finds its token due for a refresh ahead
//     of expiry posts the source's refresh() to the main loop.
//   - obtain(): a miss, marshalled to the main loop through its Mailbox; the
//     answer comes back through the worker's Mailbox. Destroying the
//     returned TokenWait (the client went away) cancels the callback.
// A view is used from one thread only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/core/event_loop.h"
#include "proxy/credentials/client_credentials_source.h"
#include "proxy/credentials/token_exchanger.h"
#include "proxy/telemetry/metrics.h"

namespace mag::credentials {

// A pending wait for a token; destroying it cancels the callback. Lives on
// the view's thread, like the callback it guards.
class TokenWait {
 public:
  struct Pending {
    std::function<void(const TokenAnswer&)> done;
  };
  explicit TokenWait(std::shared_ptr<Pending> pending) : pending_(std::move(pending)) {}
  TokenWait(const TokenWait&) = delete;
  TokenWait& operator=(const TokenWait&) = delete;

 private:
  std::shared_ptr<Pending> pending_;  // the marshalled callback holds a weak_ptr
};

class TokenView {
 public:
  // Exactly one of the two sources is set.
  TokenView(std::shared_ptr<ClientCredentialsSource> client_credentials,
            std::shared_ptr<TokenExchanger> exchanger, Mailbox* main_loop,
            std::weak_ptr<Mailbox> own_loop);

  // token_exchange: the request must carry a validated bearer token.
  bool needs_subject_token() const { return static_cast<bool>(exchanger_); }
  std::string_view grant() const { return exchanger_ ? "token_exchange" : "client_credentials"; }
  const std::string& upstream() const;

  // `subject_token`: the caller's validated token (token_exchange only).
  // kHit fills `header`; kFailed fills `failure`.
  TokenLookup lookup(std::string_view subject_token, int64_t now_ms, std::string* header,
                     TokenAnswer* failure);
  // After a kMiss. `subject_expires_at`: the caller's token's exp (0: none).
  std::unique_ptr<TokenWait> obtain(std::string_view subject_token, int64_t subject_expires_at,
                                    std::function<void(const TokenAnswer&)> done);

 private:
  enum Counter : size_t { kHit, kNegativeHit, kMiss, kCounters };
  void count(Counter counter);

  std::shared_ptr<ClientCredentialsSource> client_credentials_;
  std::shared_ptr<TokenExchanger> exchanger_;
  Mailbox* main_loop_;
  std::weak_ptr<Mailbox> own_loop_;
  uint64_t series_registry_ = 0;
  std::array<metrics::Registry::Handle, kCounters> series_{};
};

}  // namespace mag::credentials
