#include "proxy/credentials/token_endpoint.h"

#include "common/core/log.h"
#include "proxy/auth/key_provider.h"

namespace mag::credentials {

TokenEndpoint::TokenEndpoint(const config::OAuthClient& client, FetchFunction fetch)
    : issuer_(client.issuer),
      options_(token_fetch_options(client)),
      fetch_function_(std::move(fetch)),
      url_(client.token_endpoint) {}

void TokenEndpoint::resolve(Done done) {
  if (!url_.empty()) {
    done(true, url_);
    return;
  }
  waiters_.push_back(std::move(done));
  if (waiters_.size() == 1) discover(0);
}

void TokenEndpoint::discover(size_t attempt) {
  http::FetchRequest request;
  request.url = auth::discovery_urls(issuer_).at(attempt);
  fetch_ = fetch_function_(std::move(request), options_, [this, attempt](http::FetchResult result) {
    on_metadata(attempt, std::move(result));
  });
  if (!fetch_) finish(false, "discovery could not start");
}

void TokenEndpoint::on_metadata(size_t attempt, http::FetchResult result) {
  const std::vector<std::string> urls = auth::discovery_urls(issuer_);
  std::string error;
  std::string endpoint;
  if (!result.ok) {
    error = result.error;
  } else if (result.status != 200) {
    error = "HTTP status " + std::to_string(result.status);
  } else if (auth::endpoint_from_metadata(result.body, issuer_, "token_endpoint", &endpoint,
                                          &error)) {
    log::info("credentials",
              "discovered token_endpoint " + log::sanitize(endpoint) + " from " + urls[attempt]);
    url_ = endpoint;
    finish(true, url_);
    return;
  }
  // Only "not there" moves on to the RFC 8414 document; a bad document does not.
  if (attempt + 1 < urls.size() && result.ok && result.status == 404) {
    discover(attempt + 1);
    return;
  }
  log::warn("credentials",
            "token endpoint discovery at " + urls[attempt] + ": " + log::sanitize(error));
  finish(false, "discovery");
}

void TokenEndpoint::finish(bool ok, const std::string& value) {
  // The fetch is not destroyed here: this may run inside its callback.
  std::vector<Done> waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& waiter : waiters) waiter(ok, value);
}

}  // namespace mag::credentials
