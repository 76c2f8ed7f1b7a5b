// Where a token request goes: the configured `token_endpoint`, or the one
// discovered from the issuer's metadata (OpenID Connect Discovery, then
// RFC 8414; the same issuer and https checks as for jwks_uri,
// proxy/auth/key_provider.h). Discovery runs once at a time (waiters share
// it) and its result is kept for the life of the source; a failed discovery
// is tried again by the next request.
//
// Main loop only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/config/upstream_credentials.h"
#include "proxy/credentials/fetch_function.h"

namespace mag::credentials {

class TokenEndpoint {
 public:
  // ok: `value` is the endpoint URL. Not ok: a short reason for logs.
  using Done = std::function<void(bool ok, const std::string& value)>;

  TokenEndpoint(const config::OAuthClient& client, FetchFunction fetch);

  // Runs `done` at once when the endpoint is known, else when the
  // discovery in progress (started now if none) ends.
  void resolve(Done done);
  const std::string& url() const { return url_; }  // empty before discovery

 private:
  void discover(size_t attempt);
  void on_metadata(size_t attempt, http::FetchResult result);
  void finish(bool ok, const std::string& value);

  std::string issuer_;
  http::FetchOptions options_;
  FetchFunction fetch_function_;
  std::string url_;
  std::vector<Done> waiters_;
  std::unique_ptr<http::Fetch> fetch_;
};

}  // namespace mag::credentials
