// The requests the gateway sends to a token endpoint for an upstream's
// credentials: the form body (application/x-www-form-urlencoded, encoded
// with libevent's evhttp_uriencode) and the client authentication
// (client_secret_basic in an Authorization header, client_secret_post in
// the form, private_key_jwt as a signed client_assertion, RFC 7523 §2.2,
// with a fresh jti and a short exp, audience = the token endpoint).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/fetch/http_fetch.h"
#include "proxy/config/upstream_credentials.h"

namespace mag::credentials {

// grant_type=client_credentials with scope, resource and audience when set.
// False with the reason in `error` (a key that cannot sign), never a secret.
bool client_credentials_request(const config::ClientCredentials& config,
                                const std::string& token_endpoint, int64_t now_seconds,
                                http::FetchRequest* out, std::string* error);

// grant_type=urn:ietf:params:oauth:grant-type:token-exchange with
// subject_token (type access_token), requested_token_type, audience,
// resource and scope when set.
bool token_exchange_request(const config::TokenExchange& config, const std::string& token_endpoint,
                            std::string_view subject_token, int64_t now_seconds,
                            http::FetchRequest* out, std::string* error);

}  // namespace mag::credentials
