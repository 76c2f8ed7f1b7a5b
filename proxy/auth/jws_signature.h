// The one signature primitive the verifier uses: a JOSE signature (raw bytes
// as they appear in a JWS, e.g. R||S for ECDSA) checked with OpenSSL EVP over
// a message, with a public key built from JWK members. Exposed on its own so
// that primitive-level test vectors (Wycheproof rsa_*, *_p1363, ed25519)
// exercise exactly the code path tokens go through.
#pragma once

#include <string>
#include <string_view>

#include "common/core/c_handles.h"

namespace mag::auth {

// Inputs are the decoded (big-endian) JWK members. Null when OpenSSL refuses
// the key (off-curve point, wrong length, ...). No size policy here: that is
// the JWKS loader's job.
EvpPkeyPtr rsa_public_key(std::string_view n, std::string_view e);
// crv: "P-256", "P-384", "P-521"; x and y are the full-length coordinates.
EvpPkeyPtr ec_public_key(std::string_view crv, std::string_view x, std::string_view y);
// crv "Ed25519": x is the 32-byte public key.
EvpPkeyPtr ed25519_public_key(std::string_view x);

// True only for a valid signature of `message` under `key` for JWS algorithm
// `alg` (RS*, PS* with MGF1 and salt = hash length, ES* with exactly 2x the
// coordinate size bytes, EdDSA with 64 bytes). The caller has checked that
// the key type fits the algorithm; a mismatch here is simply "invalid".
bool verify_jws_signature(std::string_view alg, EVP_PKEY* key, std::string_view message,
                          std::string_view signature);

// SHA-256 of `data` (32 raw bytes).
std::string sha256(std::string_view data);

}  // namespace mag::auth
