#include "proxy/admin/upstream_token_check.h"

#include "proxy/auth/key_provider.h"
#include "proxy/credentials/fetch_function.h"
#include "proxy/credentials/token_answer.h"
#include "proxy/credentials/token_request.h"
#include "proxy/credentials/token_response.h"

namespace mag::proxy {
namespace {

using Outcome = credentials::TokenResponse::Outcome;

// The configured token endpoint, or the one in the issuer's metadata.
bool token_endpoint(const config::OAuthClient& client, const DoctorSend& send, std::string* url,
                    std::string* error) {
  if (!client.token_endpoint.empty()) {
    *url = client.token_endpoint;
    return true;
  }
  const http::FetchOptions options = credentials::token_fetch_options(client);
  for (const std::string& metadata : auth::discovery_urls(client.issuer)) {
    http::FetchRequest request;
    request.url = metadata;
    const http::FetchResult result = send(request, options);
    if (result.ok && result.status == 404) continue;
    if (!result.ok) {
      *error = "discovery at " + metadata + ": " + result.error;
    } else if (result.status != 200) {
      *error = "discovery at " + metadata + ": HTTP status " + std::to_string(result.status);
    } else if (auth::endpoint_from_metadata(result.body, client.issuer, "token_endpoint", url,
                                            error)) {
      return true;
    } else {
      *error = "discovery at " + metadata + ": " + *error;
    }
    return false;
  }
  *error = "no metadata document at the issuer";
  return false;
}

}  // namespace

UpstreamTokenCheck check_upstream_token(const config::Upstream& upstream, const DoctorSend& send,
                                        int64_t now_seconds) {
  const bool exchange = upstream.token_exchange.has_value();
  const config::OAuthClient& client =
      exchange ? upstream.token_exchange->client : upstream.client_credentials->client;
  const std::string grant = exchange ? "token_exchange" : "client_credentials";
  UpstreamTokenCheck check;
  std::string url;
  std::string error;
  if (!token_endpoint(client, send, &url, &error)) {
    check.message = grant + ": " + error;
    return check;
  }
  http::FetchRequest request;
  const bool built =
      exchange
          ? credentials::token_exchange_request(*upstream.token_exchange, url, "mag-doctor-probe",
                                                now_seconds, &request, &error)
          : credentials::client_credentials_request(*upstream.client_credentials, url, now_seconds,
                                                    &request, &error);
  if (!built) {
    check.message = grant + ": the token request cannot be made: " + error;
    return check;
  }
  const credentials::TokenResponse response =
      credentials::parse_token_response(send(request, credentials::token_fetch_options(client)));
  const std::string where = grant + " at " + url + ": ";
  switch (response.outcome) {
    case Outcome::kIssued:
      check.severity = Severity::kOk;
      check.message =
          where + "token issued, expires in " +
          (response.expires_in.count() > 0 ? std::to_string(response.expires_in.count()) + " s"
                                           : "(not said)");
      if (!exchange) check.authorization = "Bearer " + response.access_token;
      return check;
    case Outcome::kRefused:
      if (exchange) {
        check.severity = Severity::kOk;
        check.message = where + "the endpoint answers and accepts the gateway's client (a " +
                        "made-up subject token was refused: " + response.reason + ")";
      } else {
        check.message = where + "refused (" + response.reason + ")";
      }
      return check;
    case Outcome::kClientRejected:
      check.message = where + "the gateway's client is rejected (" + response.reason + ")";
      return check;
    default:
      check.message = where + "no usable answer (" + response.reason + ")";
      return check;
  }
}

}  // namespace mag::proxy
