// The caller's token exchanged for one with the upstream's audience
// (`credentials.token_exchange`, RFC 8693), per caller: the exchanged
// tokens are kept in an ExchangeCache by SHA-256 of the subject token,
// each until the issued token's lifetime minus a margin (fresh_until_ms)
// and never beyond the subject token's own exp.
//
// Threads: as ClientCredentialsSource. lookup() may be called from any
// thread (one lock and a hash lookup on a hit); obtain() runs on the main
// loop, one exchange per subject token however many requests wait for it.
// A refusal belongs to one subject token: it is remembered in the same
// cache for kRefusalHold (never beyond the subject token's exp) and
// answered at once to that caller meanwhile, so that a caller whose
// exchange is refused cannot make the gateway call the AS at its request
// rate. The AS being unavailable, or refusing the gateway's client, is
// remembered for kFailureHold and answered at once for every caller. At
// most kMaxFlights exchanges run at once (each holds a caller's token); a
// caller beyond them is answered unavailable ("busy") at once rather than
// queued without bound.
//
// No refresh ahead of expiry (ClientCredentialsSource has one): an
// exchange needs the subject token, which is held only while its exchange
// runs; keeping every caller's token to refresh early would put live
// bearer tokens in memory for as long as their exchanged ones.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/config/upstream_credentials.h"
#include "proxy/credentials/exchange_cache.h"
#include "proxy/credentials/fetch_function.h"
#include "proxy/credentials/token_answer.h"
#include "proxy/credentials/token_endpoint.h"

namespace mag::credentials {

class TokenExchanger {
 public:
  using Digest = ExchangeCache::Digest;
  using Done = std::function<void(const TokenAnswer&)>;
  static constexpr size_t kMaxFlights = 1024;

  TokenExchanger(std::string upstream, config::TokenExchange config, FetchFunction fetch,
                 Clock clock = wall_clock_ms);
  TokenExchanger(const TokenExchanger&) = delete;
  TokenExchanger& operator=(const TokenExchanger&) = delete;

  const std::string& upstream() const { return upstream_; }
  const config::TokenExchange& config() const { return config_; }

  // Any thread. `key`: ExchangeCache::digest of the subject token.
  TokenLookup lookup(const Digest& key, int64_t now_ms, std::string* header, TokenAnswer* failure);

  // Main loop. `subject_expires_at`: the subject token's exp (seconds since
  // the epoch; 0 when it has none). `done` runs once: at once for a cached
  // token or a remembered failure, else when the exchange for this subject
  // token (shared by every waiter) is answered. Dropped uncalled if the
  // exchanger goes first.
  void obtain(std::string subject_token, const Digest& key, int64_t subject_expires_at, Done done);

  size_t cached() const { return cache_.size(); }
  size_t in_flight() const { return flights_.size(); }

 private:
  struct Flight {
    std::string subject_token;  // held only while the exchange runs
    int64_t subject_expires_at = 0;
    std::vector<Done> waiters;
    std::unique_ptr<http::Fetch> fetch;
  };
  void start(const Digest& key, bool ok, const std::string& endpoint);
  void on_response(const Digest& key, http::FetchResult result);
  void finish(const Digest& key, TokenAnswer answer);

  const std::string upstream_;
  const config::TokenExchange config_;
  FetchFunction fetch_function_;
  Clock clock_;
  TokenEndpoint endpoint_;
  ExchangeCache cache_;

  mutable std::mutex failure_mutex_;
  TokenAnswer failure_;
  int64_t failure_until_ms_ = 0;

  std::map<Digest, Flight> flights_;  // main loop
};

}  // namespace mag::credentials
