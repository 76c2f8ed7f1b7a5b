#include "proxy/credentials/token_exchanger.h"

#include <algorithm>

#include "common/core/log.h"
#include "proxy/credentials/token_request.h"
#include "proxy/credentials/token_request_metrics.h"

namespace mag::credentials {

TokenExchanger::TokenExchanger(std::string upstream, config::TokenExchange config,
                               FetchFunction fetch, Clock clock)
    : upstream_(std::move(upstream)),
      config_(std::move(config)),
      fetch_function_(std::move(fetch)),
      clock_(std::move(clock)),
      endpoint_(config_.client, fetch_function_),
      cache_(config_.cache_entries) {}

TokenLookup TokenExchanger::lookup(const Digest& key, int64_t now_ms, std::string* header,
                                   TokenAnswer* failure) {
  std::string value;
  switch (cache_.find(key, now_ms, &value)) {
    case ExchangeCache::Found::kToken:
      *header = std::move(value);
      return TokenLookup::kHit;
    case ExchangeCache::Found::kRefusal:
      *failure = TokenAnswer{TokenAnswer::Outcome::kRefused, {}, std::move(value)};
      return TokenLookup::kFailed;
    case ExchangeCache::Found::kNone:
      break;
  }
  std::lock_guard lock(failure_mutex_);
  if (now_ms < failure_until_ms_) {
    *failure = failure_;
    return TokenLookup::kFailed;
  }
  return TokenLookup::kMiss;
}

void TokenExchanger::obtain(std::string subject_token, const Digest& key,
                            int64_t subject_expires_at, Done done) {
  TokenAnswer answer;
  const TokenLookup found = lookup(key, clock_(), &answer.header, &answer);
  if (answered_at_once(found, std::move(answer), done)) return;
  if (flights_.size() >= kMaxFlights && flights_.find(key) == flights_.end()) {
    // Not a token request: nothing went to the AS.
    done(TokenAnswer{TokenAnswer::Outcome::kUnavailable, {}, "busy"});
    return;
  }
  auto [flight, created] = flights_.try_emplace(key);
  flight->second.waiters.push_back(std::move(done));
  if (!created) return;  // single flight per subject token
  flight->second.subject_token = std::move(subject_token);
  flight->second.subject_expires_at = subject_expires_at;
  endpoint_.resolve(
      [this, key](bool ok, const std::string& endpoint) { start(key, ok, endpoint); });
}

void TokenExchanger::start(const Digest& key, bool ok, const std::string& endpoint) {
  auto flight = flights_.find(key);
  if (flight == flights_.end()) return;
  if (!ok) {
    finish(key, TokenAnswer{TokenAnswer::Outcome::kUnavailable, {}, endpoint});
    return;
  }
  http::FetchRequest request;
  std::string error;
  if (!token_exchange_request(config_, endpoint, flight->second.subject_token, clock_() / 1000,
                              &request, &error)) {
    log::warn("credentials", "upstream " + upstream_ + ": token exchange request: " + error);
    finish(key, TokenAnswer{TokenAnswer::Outcome::kClientRejected, {}, "client_assertion"});
    return;
  }
  flight->second.fetch = fetch_function_(
      std::move(request), token_fetch_options(config_.client),
      [this, key](http::FetchResult result) { on_response(key, std::move(result)); });
  if (!flight->second.fetch) {
    finish(key, TokenAnswer{TokenAnswer::Outcome::kUnavailable, {}, "invalid"});
  }
}

void TokenExchanger::on_response(const Digest& key, http::FetchResult result) {
  auto flight = flights_.find(key);
  if (flight == flights_.end()) return;
  TokenResponse response = parse_token_response(result);
  const int64_t now = clock_();
  int64_t fresh_until = fresh_until_ms(now, response.expires_in);
  int64_t refused_until = now + kRefusalHold.count();
  if (flight->second.subject_expires_at > 0) {
    // Never beyond the caller's own token: its holder has no right past it
    // (and a refusal of an expired token needs no memory).
    fresh_until = std::min(fresh_until, flight->second.subject_expires_at * 1000);
    refused_until = std::min(refused_until, flight->second.subject_expires_at * 1000);
  }
  TokenAnswer answer = answer_from(std::move(response));
  if (answer.outcome == TokenAnswer::Outcome::kIssued && fresh_until > now) {
    cache_.insert(key, answer.header, fresh_until);
  } else if (answer.outcome == TokenAnswer::Outcome::kRefused && refused_until > now) {
    cache_.insert_refusal(key, answer.reason, refused_until);
  }
  // The fetch whose callback this is must outlive the call: moved out and
  // destroyed when this function returns.
  std::unique_ptr<http::Fetch> done_fetch = std::move(flight->second.fetch);
  finish(key, std::move(answer));
}

void TokenExchanger::finish(const Digest& key, TokenAnswer answer) {
  auto flight = flights_.find(key);
  if (flight == flights_.end()) return;
  std::vector<Done> waiters = std::move(flight->second.waiters);
  flights_.erase(flight);
  count_token_request(upstream_, "token_exchange", answer);
  if (answer.outcome == TokenAnswer::Outcome::kUnavailable ||
      answer.outcome == TokenAnswer::Outcome::kClientRejected) {
    std::lock_guard lock(failure_mutex_);
    failure_ = answer;
    failure_until_ms_ = clock_() + kFailureHold.count();
  }
  if (answer.outcome != TokenAnswer::Outcome::kIssued) {
    log::limited(log::Level::kWarn, "credentials tx " + upstream_, "credentials",
                 "upstream " + upstream_ + ": token exchange " +
                     std::string(outcome_label(answer.outcome)) + " (" +
                     log::sanitize(answer.reason) + ")");
  }
  for (auto& waiter : waiters) waiter(answer);
}

}  // namespace mag::credentials
