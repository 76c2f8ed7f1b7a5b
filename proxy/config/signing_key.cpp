#include "proxy/config/signing_key.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <climits>
#include <memory>

namespace mag::config {
namespace {

using BioPtr = std::unique_ptr<BIO, CDeleter<BIO_free>>;

constexpr int kMinRsaBits = 2048;

// OpenSSL's passphrase callback: refuse, so an encrypted key fails to load
// instead of prompting on the terminal.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

bool is_p256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &length) != 1) {
    return false;
  }
  return std::string_view(group, length) == "prime256v1";
}

}  // namespace

EvpPkeyPtr parse_signing_key(std::string_view pem, std::string* error) {
  if (pem.size() > INT_MAX) {
    *error = "the key file is too large";
    return nullptr;
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key;
  if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    *error = "not a PEM private key OpenSSL can read (an encrypted key is not supported)";
    return nullptr;
  }
  if (EVP_PKEY_is_a(key.get(), "RSA")) {
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
      *error = "the RSA key has fewer than " + std::to_string(kMinRsaBits) + " bits";
      return nullptr;
    }
    return key;
  }
  if (is_p256(key.get())) return key;
  *error = "unsupported key type (expected an RSA key or an EC P-256 key)";
  return nullptr;
}

std::string default_signing_alg(EVP_PKEY* key) {
  return EVP_PKEY_is_a(key, "RSA") ? "RS256" : "ES256";
}

bool signing_alg_fits(std::string_view alg, EVP_PKEY* key) {
  if (alg == "RS256" || alg == "PS256") return EVP_PKEY_is_a(key, "RSA");
  if (alg == "ES256") return is_p256(key);
  return false;
}

}  // namespace mag::config
