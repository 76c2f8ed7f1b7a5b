// A parsed JWK Set: the keys usable for signature verification, selected by
// kid. Keys that are unsafe or unusable are skipped (with the reason kept
// for logs); a document that is not a JWKS at all is an error.
#pragma once

#include <cjose/cjose.h>

#include <memory>
#include <string>
#include <vector>

namespace mag::auth {

struct JwkDeleter {
  void operator()(cjose_jwk_t* k) const noexcept { cjose_jwk_release(k); }
};
using JwkPtr = std::unique_ptr<cjose_jwk_t, JwkDeleter>;

struct VerificationKey {
  std::string kid;  // may be empty
  std::string kty;  // "RSA", "EC"
  std::string alg;  // JWK alg member, may be empty (then any alg allowed for kty)
  std::string crv;  // EC curve
  JwkPtr jwk;
};

class KeySet {
 public:
  const std::vector<VerificationKey>& keys() const { return keys_; }
  std::vector<VerificationKey>& mutable_keys() { return keys_; }
  // Keys with this kid (an empty kid matches every key).
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

}  // namespace mag::auth
