#include "proxy/credentials/client_credentials_source.h"

#include "common/core/log.h"
#include "proxy/credentials/token_request.h"
#include "proxy/credentials/token_request_metrics.h"

namespace mag::credentials {

ClientCredentialsSource::ClientCredentialsSource(std::string upstream,
                                                 config::ClientCredentials config,
                                                 FetchFunction fetch, Clock clock)
    : upstream_(std::move(upstream)),
      config_(std::move(config)),
      fetch_function_(std::move(fetch)),
      clock_(std::move(clock)),
      endpoint_(config_.client, fetch_function_) {}

TokenLookup ClientCredentialsSource::lookup(int64_t now_ms, std::string* header,
                                            TokenAnswer* failure, bool* refresh) {
  std::lock_guard lock(mutex_);
  if (now_ms < fresh_until_ms_) {
    *header = header_;
    if (refresh) {
      // One request for a refresh however many lookups find it due, none
      // while a failed one is held.
      *refresh = now_ms >= refresh_after_ms_ && now_ms >= failure_until_ms_ && !refresh_requested_;
      if (*refresh) refresh_requested_ = true;
    }
    return TokenLookup::kHit;
  }
  if (now_ms < failure_until_ms_) {
    *failure = failure_;
    return TokenLookup::kFailed;
  }
  return TokenLookup::kMiss;
}

void ClientCredentialsSource::obtain(Done done) {
  TokenAnswer answer;
  const TokenLookup found = lookup(clock_(), &answer.header, &answer);
  if (answered_at_once(found, std::move(answer), done)) return;
  waiters_.push_back(std::move(done));
  if (in_flight_) return;  // single flight: the request in flight answers it
  start();
}

void ClientCredentialsSource::refresh() {
  if (in_flight_) return;
  start();
}

void ClientCredentialsSource::start() {
  in_flight_ = true;
  endpoint_.resolve([this](bool ok, const std::string& value) { on_endpoint(ok, value); });
}

void ClientCredentialsSource::on_endpoint(bool ok, const std::string& value) {
  if (!ok) {
    finish(TokenAnswer{TokenAnswer::Outcome::kUnavailable, {}, value});
    return;
  }
  http::FetchRequest request;
  std::string error;
  if (!client_credentials_request(config_, value, clock_() / 1000, &request, &error)) {
    log::warn("credentials", "upstream " + upstream_ + ": token request: " + error);
    finish(TokenAnswer{TokenAnswer::Outcome::kClientRejected, {}, "client_assertion"});
    return;
  }
  fetch_ = fetch_function_(std::move(request), token_fetch_options(config_.client),
                           [this](http::FetchResult result) { on_response(std::move(result)); });
  if (!fetch_) finish(TokenAnswer{TokenAnswer::Outcome::kUnavailable, {}, "invalid"});
}

void ClientCredentialsSource::on_response(http::FetchResult result) {
  TokenResponse response = parse_token_response(result);
  const int64_t now = clock_();
  const int64_t fresh_until = fresh_until_ms(now, response.expires_in);
  const int64_t refresh_after = refresh_after_ms(now, response.expires_in);
  finish(answer_from(std::move(response)), fresh_until, refresh_after);
}

void ClientCredentialsSource::finish(TokenAnswer answer, int64_t fresh_until,
                                     int64_t refresh_after) {
  in_flight_ = false;
  {
    std::lock_guard lock(mutex_);
    refresh_requested_ = false;
    if (answer.outcome == TokenAnswer::Outcome::kIssued) {
      header_ = answer.header;
      fresh_until_ms_ = fresh_until;
      refresh_after_ms_ = refresh_after;
      failure_until_ms_ = 0;
    } else {
      failure_ = answer;
      failure_until_ms_ = clock_() + kFailureHold.count();
    }
  }
  count_token_request(upstream_, "client_credentials", answer);
  if (answer.outcome != TokenAnswer::Outcome::kIssued) {
    log::limited(log::Level::kWarn, "credentials cc " + upstream_, "credentials",
                 "upstream " + upstream_ + ": client_credentials token request " +
                     std::string(outcome_label(answer.outcome)) + " (" +
                     log::sanitize(answer.reason) + ")");
  }
  std::vector<Done> waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& waiter : waiters) waiter(answer);
}

}  // namespace mag::credentials
