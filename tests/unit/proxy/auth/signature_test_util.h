// verify_jwt's pre-validation, key selection and signature check without the
// claims: for JWS test vectors (and fuzz inputs) whose payloads are not JWT
// claims.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/auth/jwt_verifier.h"

namespace mag::auth {

inline Reason verify_signature_only(std::string_view token, const KeySet& keys,
                                    const std::vector<std::string>& algorithms,
                                    size_t max_token_bytes = 16 * 1024) {
  CompactJws jws;
  if (Reason r = parse_compact_jws(token, max_token_bytes, algorithms, &jws); r != Reason::kOk) {
    return r;
  }
  return check_signature(jws, keys, nullptr);
}

}  // namespace mag::auth
