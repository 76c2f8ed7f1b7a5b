// Our own parser for the JWS compact serialisation. It runs before any
// library sees a token: base64 decoders disagree on malformed segments
// (`A=AA`, trailing `=junk`, non-canonical bits) and some abort on them, so
// only canonical, unpadded base64url, ECDSA signatures of their exact length
// and headers without duplicate members get through (JWT-SYN-* in
// docs/security.md). Everything here is pure and allocation-bounded by
// the size cap that is checked first.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <jansson.h>

#include <memory>
#include "common/core/c_handles.h"
#include "proxy/auth/jwt_verifier.h"

namespace mag::auth {

// Strict, unpadded, canonical base64url (RFC 7515 §2): only [A-Za-z0-9_-],
// no '=', length % 4 != 1, unused trailing bits zero. Anything else: nullopt.
std::optional<std::string> base64url_decode(std::string_view in);
std::string base64url_encode(std::string_view bytes);
// Standard, padded base64 (RFC 4648 §4), e.g. for HTTP Basic credentials.
std::string base64_encode(std::string_view bytes);

// The JWS algorithms this gateway can verify (asymmetric only). HS*, none and
// every JWE algorithm are absent on purpose.
bool is_supported_jws_alg(std::string_view alg);
// Exact raw R||S length for ES256/384/512; 0 for other algorithms.
size_t ecdsa_signature_bytes(std::string_view alg);
// "RSA" for RS*/PS*, "EC" for ES*, "OKP" for EdDSA, "" otherwise.
std::string_view kty_for_alg(std::string_view alg);
// "P-256"/"P-384"/"P-521" for ES256/384/512, "Ed25519" for EdDSA, "" otherwise.
std::string_view curve_for_alg(std::string_view alg);

// A token that passed the compact-form and header checks.
struct CompactJws {
  std::string_view signing_input;  // header "." payload, as received
  std::string alg;
  std::string kid;
  bool has_kid = false;
  JsonPtr header;         // the decoded protected header (a JSON object)
  std::string payload;    // decoded payload bytes
  std::string signature;  // decoded signature bytes
};

// Size cap, shape, canonical base64url of every segment, header JSON
// (duplicates rejected, must be an object), alg in `allowed_algs` and
// supported, refused header members, kid type/length, and the ECDSA signature
// length. RSA signature length needs the key and is checked later.
Reason parse_compact_jws(std::string_view token, size_t max_token_bytes,
                         const std::vector<std::string>& allowed_algs, CompactJws* out);

// Parses JSON text that must be an object, rejecting duplicate members.
JsonPtr parse_json_object(std::string_view text);

}  // namespace mag::auth
