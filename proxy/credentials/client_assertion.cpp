#include "proxy/credentials/client_assertion.h"

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <memory>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/config/signing_key.h"

namespace mag::credentials {
namespace {

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, CDeleter<ECDSA_SIG_free>>;
using BnPtr = std::unique_ptr<BIGNUM, CDeleter<BN_free>>;

constexpr size_t kJtiBytes = 16;
constexpr int kP256CoordinateBytes = 32;

std::string json_text(json_t* value) {
  return json::to_json_string(value, JSON_COMPACT).value_or("");
}

std::string random_jti() {
  std::string raw(kJtiBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1) {
    return "";
  }
  return auth::base64url_encode(raw);
}

// DER ECDSA-Sig-Value -> JOSE R||S, each half 32 bytes (RFC 7518 §3.4).
std::string der_to_raw_p256(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return "";
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kP256CoordinateBytes) != kP256CoordinateBytes ||
      BN_bn2binpad(s, out + kP256CoordinateBytes, kP256CoordinateBytes) != kP256CoordinateBytes) {
    return "";
  }
  return raw;
}

// The JOSE signature bytes of `input` with SHA-256: PKCS#1 v1.5 (RS256),
// PSS with MGF1 and a 32-byte salt (PS256), or ECDSA as R||S (ES256).
std::string sign(const std::string& alg, EVP_PKEY* key, const std::string& input) {
  const EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) != 1) return "";
  if (alg == "PS256" && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    return "";
  }
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, in, input.size()) != 1) return "";
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, in,
                     input.size()) != 1) {
    return "";
  }
  signature.resize(length);
  return alg == "ES256" ? der_to_raw_p256(signature) : signature;
}

}  // namespace

std::string client_assertion(const config::OAuthClient& client, const std::string& token_endpoint,
                             int64_t now_seconds, std::string* error) {
  const EvpPkeyPtr key = config::parse_signing_key(client.private_key_pem, error);
  if (!key) return "";
  const std::string alg =
      client.signing_alg.empty() ? config::default_signing_alg(key.get()) : client.signing_alg;
  if (!config::signing_alg_fits(alg, key.get())) {
    *error = "the private key cannot sign " + alg;
    return "";
  }
  const std::string jti = random_jti();
  if (jti.empty()) {
    *error = "no random jti (OpenSSL RAND_bytes failed)";
    return "";
  }
  const JsonPtr header = json_own(json_object());
  json_object_set_new(header.get(), "alg", json_string(alg.c_str()));
  json_object_set_new(header.get(), "typ", json_string("JWT"));
  if (!client.key_id.empty()) {
    json_object_set_new(header.get(), "kid",
                        json_stringn(client.key_id.data(), client.key_id.size()));
  }
  const JsonPtr claims = json_own(json_object());
  json_t* id = json_stringn(client.client_id.data(), client.client_id.size());
  json_object_set_new(claims.get(), "iss", json_incref(id));
  json_object_set_new(claims.get(), "sub", id);
  json_object_set_new(claims.get(), "aud",
                      json_stringn(token_endpoint.data(), token_endpoint.size()));
  json_object_set_new(claims.get(), "jti", json_string(jti.c_str()));
  json_object_set_new(claims.get(), "iat", json_integer(now_seconds));
  json_object_set_new(claims.get(), "exp",
                      json_integer(now_seconds + kClientAssertionLifetimeSeconds));
  const std::string header_text = json_text(header.get());
  const std::string claims_text = json_text(claims.get());
  if (header_text.empty() || claims_text.empty()) {
    *error = "cannot serialise the client assertion";
    return "";
  }
  const std::string input =
      auth::base64url_encode(header_text) + "." + auth::base64url_encode(claims_text);
  const std::string signature = sign(alg, key.get(), input);
  if (signature.empty()) {
    *error = "OpenSSL could not sign the client assertion with " + alg;
    return "";
  }
  return input + "." + auth::base64url_encode(signature);
}

}  // namespace mag::credentials
