// The private key of `private_key_jwt` client authentication (RFC 7523
// §2.2): a PEM key parsed with OpenSSL, an RSA key of at least 2048 bits or
// an EC P-256 key, and the JWS algorithms each can make.
#pragma once

#include <string>
#include <string_view>

#include "common/core/c_handles.h"

namespace mag::config {

// The key in `pem` (PKCS#8, or the traditional RSA / EC forms). Null with
// the reason in `error` when OpenSSL cannot read it (an encrypted key
// included: no passphrase is ever asked for), or it is another kind of key.
// The reason never holds the PEM text.
EvpPkeyPtr parse_signing_key(std::string_view pem, std::string* error);

// "RS256" for an RSA key, "ES256" for a P-256 key.
std::string default_signing_alg(EVP_PKEY* key);

// Whether `alg` is RS256, PS256 (RSA key) or ES256 (P-256 key) and fits `key`.
bool signing_alg_fits(std::string_view alg, EVP_PKEY* key);

}  // namespace mag::config
