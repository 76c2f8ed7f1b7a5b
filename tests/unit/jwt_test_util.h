// Test-only helpers: generate RSA/EC keys with OpenSSL, turn them into JWKs,
// and mint arbitrary compact tokens (any header/payload text, signed with a
// chosen key and algorithm, or carrying raw signature bytes).
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "proxy/auth/jwt_compact.h"

namespace mag::auth::testing {

struct BnFree {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};

inline void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test key helper failed: ") + what);
}

struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string kty;  // "RSA", "EC" or "OKP" (Ed25519)
  std::string crv;  // EC only
  size_t coord_bytes = 0;
};

inline TestKey make_rsa_key(unsigned bits = 2048, unsigned long exponent = 65537) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  require(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1, "rsa keygen init");
  require(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) == 1, "rsa bits");
  BnPtr e(BN_new());
  require(e && BN_set_word(e.get(), exponent) == 1, "rsa e");
  require(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) == 1, "rsa pubexp");
  EVP_PKEY* raw = nullptr;
  require(EVP_PKEY_keygen(ctx.get(), &raw) == 1, "rsa keygen");
  return TestKey{std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), "RSA", "", 0};
}

inline TestKey make_ec_key(const char* crv = "P-256") {
  const std::string c = crv;
  const char* group = c == "P-256" ? "P-256" : c == "P-384" ? "P-384" : "P-521";
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group);
  require(raw != nullptr, "ec keygen");
  const size_t coord = c == "P-256" ? 32 : c == "P-384" ? 48 : 66;
  return TestKey{std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), "EC", c, coord};
}

inline TestKey make_ed25519_key() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  require(raw != nullptr, "ed25519 keygen");
  return TestKey{std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), "OKP", "Ed25519", 0};
}

inline std::string ed25519_public_bytes(const TestKey& key) {
  std::string out(32, '\0');
  size_t len = out.size();
  require(EVP_PKEY_get_raw_public_key(key.pkey.get(), reinterpret_cast<unsigned char*>(out.data()),
                                      &len) == 1 &&
              len == 32,
          "ed25519 raw public key");
  return out;
}

// Keys are slow to generate in a Debug build: share them across tests.
inline const TestKey& rsa_key() {
  static const TestKey k = make_rsa_key();
  return k;
}
inline const TestKey& other_rsa_key() {
  static const TestKey k = make_rsa_key();
  return k;
}
inline const TestKey& ec_key() {
  static const TestKey k = make_ec_key("P-256");
  return k;
}

inline std::string bn_param(const TestKey& key, const char* name, size_t pad = 0) {
  BIGNUM* raw = nullptr;
  require(EVP_PKEY_get_bn_param(key.pkey.get(), name, &raw) == 1, name);
  BnPtr bn(raw);
  std::string out(pad ? pad : static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  require(BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()),
                       static_cast<int>(out.size())) > 0,
          "bn2bin");
  return out;
}

// The public JWK as JSON text. `extra` is spliced in verbatim, e.g.
// R"("use":"enc")".
inline std::string public_jwk(const TestKey& key, const std::string& kid,
                              const std::string& alg = "", const std::string& extra = "") {
  std::string j = "{\"kty\":\"" + key.kty + "\"";
  if (!kid.empty()) j += ",\"kid\":\"" + kid + "\"";
  if (!alg.empty()) j += ",\"alg\":\"" + alg + "\"";
  if (key.kty == "OKP") {
    j += ",\"crv\":\"Ed25519\",\"x\":\"" + base64url_encode(ed25519_public_bytes(key)) + "\"";
  } else if (key.kty == "RSA") {
    j += ",\"n\":\"" + base64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_N)) + "\"";
    j += ",\"e\":\"" + base64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_E)) + "\"";
  } else {
    j += ",\"crv\":\"" + key.crv + "\"";
    j += ",\"x\":\"" + base64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, key.coord_bytes)) +
         "\"";
    j += ",\"y\":\"" + base64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, key.coord_bytes)) +
         "\"";
  }
  if (!extra.empty()) j += "," + extra;
  return j + "}";
}

inline std::string jwks_of(const std::vector<std::string>& jwks) {
  std::string out = "{\"keys\":[";
  for (size_t i = 0; i < jwks.size(); ++i) out += (i ? "," : "") + jwks[i];
  return out + "]}";
}

inline const EVP_MD* md_for(const std::string& alg) {
  const std::string bits = alg.substr(2);
  return bits == "256" ? EVP_sha256() : bits == "384" ? EVP_sha384() : EVP_sha512();
}

// DER ECDSA-Sig-Value -> JOSE raw R||S with each half `half` bytes.
inline std::string der_to_raw(const std::string& der, size_t half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  require(sig != nullptr, "d2i_ECDSA_SIG");
  std::string out(2 * half, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, static_cast<int>(half));
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + half, static_cast<int>(half));
  ECDSA_SIG_free(sig);
  return out;
}

// Signs `input` as JWS `alg` (RS*, PS*, ES*, EdDSA). With der=true an ES signature
// is left in DER form (which JWS forbids).
inline std::string sign_raw(const TestKey& key, const std::string& alg, const std::string& input,
                            bool der = false) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = alg == "EdDSA" ? nullptr : md_for(alg);
  require(EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key.pkey.get()) == 1, "DigestSignInit");
  if (alg.rfind("PS", 0) == 0) {
    require(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1, "pss");
    require(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1, "saltlen");
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  require(EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) == 1, "sign len");
  std::string sig(len, '\0');
  require(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                         input.size()) == 1,
          "sign");
  sig.resize(len);
  if (alg.rfind("ES", 0) == 0 && !der) return der_to_raw(sig, key.coord_bytes);
  return sig;
}

inline std::string hmac_raw(const std::string& alg, const std::string& secret,
                            const std::string& input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  require(HMAC(md_for(alg), secret.data(), static_cast<int>(secret.size()),
               reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
               &len) != nullptr,
          "hmac");
  return std::string(reinterpret_cast<char*>(out), len);
}

inline std::string signing_input(const std::string& header_json, const std::string& payload_json) {
  return base64url_encode(header_json) + "." + base64url_encode(payload_json);
}

// A token carrying exactly these signature bytes.
inline std::string token_with_signature(const std::string& header_json,
                                        const std::string& payload_json,
                                        const std::string& signature) {
  return signing_input(header_json, payload_json) + "." + base64url_encode(signature);
}

// A token signed for real; the header text is used verbatim (it may lie).
inline std::string signed_token(const TestKey& key, const std::string& alg,
                                const std::string& header_json, const std::string& payload_json) {
  return token_with_signature(header_json, payload_json,
                              sign_raw(key, alg, signing_input(header_json, payload_json)));
}

inline std::string hmac_token(const std::string& alg, const std::string& secret,
                              const std::string& header_json, const std::string& payload_json) {
  return token_with_signature(header_json, payload_json,
                              hmac_raw(alg, secret, signing_input(header_json, payload_json)));
}

}  // namespace mag::auth::testing
