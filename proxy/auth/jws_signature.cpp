#include "proxy/auth/jws_signature.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <memory>
#include <vector>

namespace mag::auth {
namespace {

using BignumPtr = std::unique_ptr<BIGNUM, CDeleter<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, CDeleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, CDeleter<OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, CDeleter<EVP_PKEY_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, CDeleter<ECDSA_SIG_free>>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

BignumPtr to_bignum(std::string_view big_endian) {
  return BignumPtr(BN_bin2bn(bytes(big_endian), static_cast<int>(big_endian.size()), nullptr));
}

// Builds a public key from OSSL parameters, then asks OpenSSL to check it
// (EC: the point is on the curve and not at infinity).
EvpPkeyPtr key_from_params(const char* type, OSSL_PARAM* params) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) return nullptr;
  EvpPkeyPtr key(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

// The digest of a JWS algorithm, fetched from the default provider once:
// EVP_sha256() and friends make every EVP_Digest call look the
// implementation up again. Never freed (process lifetime).
const EVP_MD* digest_for(std::string_view alg) {
  static const EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static const EVP_MD* const kSha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static const EVP_MD* const kSha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  if (alg.size() != 5) return nullptr;
  const std::string_view bits = alg.substr(2);
  if (bits == "256") return kSha256;
  if (bits == "384") return kSha384;
  if (bits == "512") return kSha512;
  return nullptr;
}

size_t ecdsa_coordinate_bytes(std::string_view alg) {
  if (alg == "ES256") return 32;
  if (alg == "ES384") return 48;
  if (alg == "ES512") return 66;
  return 0;
}

// JOSE's R||S (RFC 7518 §3.4) to the DER form EVP expects. The length is
// exact: longer or shorter encodings of the same values are refused.
std::string ecdsa_raw_to_der(std::string_view alg, std::string_view raw) {
  const size_t half = ecdsa_coordinate_bytes(alg);
  if (half == 0 || raw.size() != 2 * half) return {};
  BignumPtr r = to_bignum(raw.substr(0, half));
  BignumPtr s = to_bignum(raw.substr(half));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return {};
  return der;
}

// Verification contexts prepared once per (key, algorithm) and thread, then
// reused for every signature: EVP_DigestVerifyInit fetches the signature
// implementation, builds a provider context and sets the padding again on
// each call, and EVP_DigestVerify duplicates it before finishing (~15 % of an
// RS256 verification). EVP_PKEY_verify on a prepared context checks
// the same thing over the digest (PKCS#1 v1.5 DigestInfo / PSS with the
// digest as MGF1 hash and salt length / ECDSA) and leaves the context
// reusable. Per thread, because an EVP_PKEY_CTX must not be shared. Each
// context holds a reference to its key, so a cached key's address cannot be
// reused by another key; the cache is small and emptied when full, so keys
// that left the JWKS are released after a few rotations.
class PreparedVerifiers {
 public:
  EVP_PKEY_CTX* get(EVP_PKEY* key, std::string_view alg, const EVP_MD* md) {
    for (const Entry& e : entries_) {
      if (e.key == key && e.alg == alg) return e.ctx.get();
    }
    PkeyCtxPtr ctx = prepare(key, alg, md);
    if (!ctx) return nullptr;
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_.push_back(Entry{key, std::string(alg), std::move(ctx)});
    return entries_.back().ctx.get();
  }

 private:
  static constexpr size_t kMaxEntries = 32;
  struct Entry {
    EVP_PKEY* key;
    std::string alg;
    PkeyCtxPtr ctx;
  };

  static PkeyCtxPtr prepare(EVP_PKEY* key, std::string_view alg, const EVP_MD* md) {
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return nullptr;
    EVP_PKEY_CTX* c = ctx.get();
    if (alg[0] == 'P') {
      if (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) != 1 ||
          EVP_PKEY_CTX_set_signature_md(c, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) != 1 ||
          EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) != 1)
        return nullptr;
    } else if (alg[0] == 'R') {
      if (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1 ||
          EVP_PKEY_CTX_set_signature_md(c, md) != 1)
        return nullptr;
    } else if (EVP_PKEY_CTX_set_signature_md(c, md) != 1) {
      return nullptr;
    }
    return ctx;
  }

  std::vector<Entry> entries_;
};

// The signature (DER for ECDSA) of the digest of `message`, with `key`'s
// prepared context for `alg`.
bool verify_digest(std::string_view alg, EVP_PKEY* key, std::string_view message,
                   std::string_view signature) {
  thread_local PreparedVerifiers verifiers;
  const EVP_MD* md = digest_for(alg);
  if (md == nullptr) return false;
  EVP_PKEY_CTX* ctx = verifiers.get(key, alg, md);
  if (ctx == nullptr) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, md, nullptr) != 1)
    return false;
  return EVP_PKEY_verify(ctx, bytes(signature), signature.size(), digest, digest_len) == 1;
}

bool digest_verify(EVP_MD_CTX* ctx, std::string_view message, std::string_view signature) {
  return EVP_DigestVerify(ctx, bytes(signature), signature.size(), bytes(message),
                          message.size()) == 1;
}

bool verify_rsa(std::string_view alg, EVP_PKEY* key, std::string_view message,
                std::string_view signature) {
  if (digest_for(alg) == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return false;
  // RFC 7518 §3.3: the signature is exactly as long as the modulus.
  if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) return false;
  return verify_digest(alg, key, message, signature);
}

bool verify_ecdsa(std::string_view alg, EVP_PKEY* key, std::string_view message,
                  std::string_view signature) {
  if (digest_for(alg) == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  // The curve must be the one the algorithm names (key bits 256/384/521).
  const int bits = EVP_PKEY_get_bits(key);
  const int want = alg == "ES256" ? 256 : alg == "ES384" ? 384 : 521;
  if (bits != want) return false;
  const std::string der = ecdsa_raw_to_der(alg, signature);
  if (der.empty()) return false;
  return verify_digest(alg, key, message, der);
}

bool verify_eddsa(EVP_PKEY* key, std::string_view message, std::string_view signature) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 || signature.size() != 64) return false;
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1) return false;
  return digest_verify(ctx.get(), message, signature);
}

}  // namespace

EvpPkeyPtr rsa_public_key(std::string_view n, std::string_view e) {
  BignumPtr bn_n = to_bignum(n);
  BignumPtr bn_e = to_bignum(e);
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld) return nullptr;
  if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return nullptr;
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return nullptr;
  // No public_check for RSA: OpenSSL 3 only offers it for private keys; the
  // JWKS loader enforces size and exponent itself.
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) return nullptr;
  return EvpPkeyPtr(raw);
}

EvpPkeyPtr ec_public_key(std::string_view crv, std::string_view x, std::string_view y) {
  const char* group = nullptr;
  size_t coord = 0;
  if (crv == "P-256") {
    group = "prime256v1", coord = 32;
  } else if (crv == "P-384") {
    group = "secp384r1", coord = 48;
  } else if (crv == "P-521") {
    group = "secp521r1", coord = 66;
  } else {
    return nullptr;
  }
  if (x.size() != coord || y.size() != coord) return nullptr;
  std::string point = "\x04";
  point.append(x);
  point.append(y);
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return nullptr;
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return nullptr;
  return key_from_params("EC", params.get());
}

EvpPkeyPtr ed25519_public_key(std::string_view x) {
  if (x.size() != 32) return nullptr;
  return EvpPkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(x), x.size()));
}

bool verify_jws_signature(std::string_view alg, EVP_PKEY* key, std::string_view message,
                          std::string_view signature) {
  if (key == nullptr || alg.size() < 2) return false;
  if (alg == "EdDSA") return verify_eddsa(key, message, signature);
  if (alg.starts_with("RS") || alg.starts_with("PS"))
    return verify_rsa(alg, key, message, signature);
  if (alg.starts_with("ES")) return verify_ecdsa(alg, key, message, signature);
  return false;
}

std::string sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(bytes(data), data.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace mag::auth
