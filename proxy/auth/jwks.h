// A parsed JWK Set: the keys usable for signature verification, selected by
// kid. Keys that are unsafe or unusable are skipped (with the reason kept
// for logs); a document that is not a JWKS at all is an error.
#pragma once

#include <cjose/cjose.h>

#include <memory>
#include <string>
#include <vector>

#include "common/core/c_handles.h"

namespace mag::auth {

struct JwkDeleter {
  void operator()(cjose_jwk_t* k) const noexcept { cjose_jwk_release(k); }
};
using JwkPtr = std::unique_ptr<cjose_jwk_t, JwkDeleter>;

struct VerificationKey {
  std::string kid;      // may be empty
  std::string kty;      // "RSA", "EC", "OKP"
  std::string alg;      // JWK alg member, may be empty (then any alg allowed for kty)
  std::string crv;      // EC curve, or "Ed25519" for OKP
  size_t key_bits = 0;  // RSA modulus / EC field size; RS/PS signatures are (key_bits+7)/8 bytes
  JwkPtr jwk;           // cjose's view (RSA/EC only; null for OKP, which cjose lacks)
  EvpPkeyPtr pkey;      // what signatures are verified with
  // SHA-256 (hex) of the canonical public members: identifies the key
  // material, so a kid reused for another key is a different key.
  std::string fingerprint;
};

class KeySet {
 public:
  const std::vector<VerificationKey>& keys() const { return keys_; }
  std::vector<VerificationKey>& mutable_keys() { return keys_; }
  // Keys that may have signed a token carrying this kid: keys with the same
  // kid and keys that have no kid (as google/jwt_verify_lib does). An empty
  // kid (token without one) matches every key.
  std::vector<const VerificationKey*> find(const std::string& kid) const;
  std::vector<std::string> skipped;  // "kid 'x': RSA key under 2048 bits" ...

 private:
  std::vector<VerificationKey> keys_;
};

struct JwksParseResult {
  std::shared_ptr<const KeySet> keys;  // set on success (maybe with skipped keys)
  std::string error;                   // set on failure
};
// Caps: document size 1 MiB, at most 100 keys. Rejects duplicate members,
// duplicate kids, `{"keys":[]}` and sets where no key is usable.
JwksParseResult parse_jwks(const std::string& document);

// Limits applied by parse_jwks (exposed for tests and the fetcher).
inline constexpr size_t kMaxJwksBytes = 1024 * 1024;
inline constexpr size_t kMaxJwksKeys = 100;
inline constexpr size_t kMinRsaBits = 2048;
inline constexpr size_t kMaxRsaBits = 8192;

}  // namespace mag::auth
