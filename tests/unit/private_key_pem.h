// Test-only: a key made at test time written as a PEM private key (PKCS#8),
// plain or encrypted with a passphrase, for configs that name a key file.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "common/core/c_handles.h"

namespace mag::test {

inline std::string private_key_pem(EVP_PKEY* key, const std::string& passphrase = "") {
  std::unique_ptr<BIO, CDeleter<BIO_free>> bio(BIO_new(BIO_s_mem()));
  const bool encrypted = !passphrase.empty();
  if (!bio || PEM_write_bio_PKCS8PrivateKey(
                  bio.get(), key, encrypted ? EVP_aes_256_cbc() : nullptr,
                  encrypted ? passphrase.data() : nullptr, static_cast<int>(passphrase.size()),
                  nullptr, nullptr) != 1) {
    throw std::runtime_error("PEM_write_bio_PKCS8PrivateKey failed");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace mag::test
