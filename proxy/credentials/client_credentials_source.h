// The gateway's own token for one upstream (`credentials.client_credentials`,
// RFC 6749 §4.4): one token, used until shortly before it expires
// (fresh_until_ms), then fetched again. Refreshed ahead: the first lookup
// past 75 % of the token's life (refresh_after_ms) asks for refresh() on
// the main loop, which fetches a new token in the background while the
// current one keeps being served; a failed refresh is remembered like any
// failure (no new refresh for kFailureHold) and disturbs no caller while
// the current token is fresh.
//
// Threads: the source lives on the main loop (its fetches, its waiters).
// The token it obtains is published under a mutex: lookup() may be called
// from any thread and costs one lock and a string copy. A worker that
// misses asks obtain() on the main loop (proxy/credentials/token_view.h):
// however many requests wait, one request goes to the AS (single flight).
// A failure is remembered for kFailureHold and answered at once meanwhile.
// The last reference must be released on the main loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/config/upstream_credentials.h"
#include "proxy/credentials/fetch_function.h"
#include "proxy/credentials/token_answer.h"
#include "proxy/credentials/token_endpoint.h"

namespace mag::credentials {

class ClientCredentialsSource {
 public:
  using Done = std::function<void(const TokenAnswer&)>;

  ClientCredentialsSource(std::string upstream, config::ClientCredentials config,
                          FetchFunction fetch, Clock clock = wall_clock_ms);
  ClientCredentialsSource(const ClientCredentialsSource&) = delete;
  ClientCredentialsSource& operator=(const ClientCredentialsSource&) = delete;

  const std::string& upstream() const { return upstream_; }
  const config::ClientCredentials& config() const { return config_; }

  // Any thread. kHit fills `header`, kFailed fills `failure`. With
  // `refresh`: set to true on the one kHit that finds the token due for a
  // refresh ahead of expiry (the caller then has refresh() run on the main
  // loop); false on every other lookup until that refresh is answered.
  TokenLookup lookup(int64_t now_ms, std::string* header, TokenAnswer* failure,
                     bool* refresh = nullptr);

  // Main loop. `done` runs once with the answer: at once when a fresh token
  // or a remembered failure is there, else when the request in flight (one
  // for every waiter) is answered. Dropped uncalled if the source goes first.
  void obtain(Done done);
  // Main loop. Fetches a new token unless a request is in flight already.
  void refresh();

 private:
  void start();
  void on_endpoint(bool ok, const std::string& value);
  void on_response(http::FetchResult result);
  // Publishes the answer (a token until `fresh_until`, refreshed from
  // `refresh_after`; or a failure for kFailureHold) and answers every waiter.
  void finish(TokenAnswer answer, int64_t fresh_until = 0, int64_t refresh_after = 0);

  const std::string upstream_;
  const config::ClientCredentials config_;
  FetchFunction fetch_function_;
  Clock clock_;
  TokenEndpoint endpoint_;

  mutable std::mutex mutex_;  // guards the published state below
  std::string header_;
  int64_t fresh_until_ms_ = 0;
  int64_t refresh_after_ms_ = 0;
  bool refresh_requested_ = false;  // a lookup asked for refresh(), not answered yet
  TokenAnswer failure_;
  int64_t failure_until_ms_ = 0;

  std::vector<Done> waiters_;  // main loop
  bool in_flight_ = false;     // main loop: a token request runs
  std::unique_ptr<http::Fetch> fetch_;
};

}  // namespace mag::credentials
