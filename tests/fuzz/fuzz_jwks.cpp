// libFuzzer target: JWKS documents as a (hostile) issuer's endpoint serves
// them, through parse_jwks (size/key caps, duplicate members and kids, key
// policy, cjose/OpenSSL import).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/auth/jwks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string document(reinterpret_cast<const char*>(data), size);
  const auto result = mag::auth::parse_jwks(document);
  // Exactly one of keys / error, and a set never exceeds the key cap.
  if ((result.keys == nullptr) == result.error.empty()) std::abort();
  if (result.keys && result.keys->keys().size() > mag::auth::kMaxJwksKeys) std::abort();
  if (result.keys && result.keys->keys().empty()) std::abort();
  return 0;
}
