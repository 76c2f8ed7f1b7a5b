#include "proxy/credentials/same_credentials.h"

#include <tuple>

namespace mag::credentials {
namespace {

auto fields(const config::OAuthClient& c) {
  return std::tie(c.token_endpoint, c.issuer, c.client_id, c.auth_method, c.client_secret,
                  c.client_secret_file, c.private_key_file, c.private_key_pem, c.key_id,
                  c.signing_alg, c.ca_file, c.timeout);
}

bool same_client(const config::OAuthClient& a, const config::OAuthClient& b) {
  return fields(a) == fields(b);
}

}  // namespace

bool same_credentials(const config::ClientCredentials& a, const config::ClientCredentials& b) {
  return same_client(a.client, b.client) &&
         std::tie(a.scopes, a.resource, a.audience) == std::tie(b.scopes, b.resource, b.audience);
}

bool same_credentials(const config::TokenExchange& a, const config::TokenExchange& b) {
  return same_client(a.client, b.client) &&
         std::tie(a.audience, a.resource, a.scopes, a.requested_token_type, a.cache_entries) ==
             std::tie(b.audience, b.resource, b.scopes, b.requested_token_type, b.cache_entries);
}

}  // namespace mag::credentials
