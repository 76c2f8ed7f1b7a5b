// The private_key_jwt client assertion (RFC 7523 §2.2 and §3): a JWS signed
// with the gateway's key, header {alg, typ "JWT", kid when set}, claims
// iss = sub = client_id, aud = the token endpoint, a random jti, iat = now
// and exp = now + 60 s.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/config/upstream_credentials.h"

namespace mag::credentials {

inline constexpr int64_t kClientAssertionLifetimeSeconds = 60;

// The compact JWS, or an empty string with the reason in `error` (a key
// that does not parse or cannot make `signing_alg`). Never logs the key.
std::string client_assertion(const config::OAuthClient& client, const std::string& token_endpoint,
                             int64_t now_seconds, std::string* error);

}  // namespace mag::credentials
