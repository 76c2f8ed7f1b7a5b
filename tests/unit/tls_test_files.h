// Test-only: a temporary directory holding PEM files made with OpenSSL at
// test time, for configs that name TLS files: a self-signed certificate with
// its key, a second key that does not match it, a file that is not PEM and a
// copy of the system CA bundle. Loads a config written into the directory.
// Also self_signed(), for tests that need a certificate in memory.
#pragma once

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "proxy/config/config.h"

namespace mag::test {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A certificate for `key` that signs itself, valid for an hour.
inline X509Ptr self_signed(EVP_PKEY* key, const char* common_name) {
  X509Ptr cert(X509_new(), X509_free);
  REQUIRE(cert);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  return cert;
}

struct TlsFiles {
  std::filesystem::path dir;
  TlsFiles() {
    dir =
        std::filesystem::temp_directory_path() / ("mag-upstream-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> other(EVP_EC_gen("P-256"), EVP_PKEY_free);
    REQUIRE((key && other));
    X509Ptr cert = self_signed(key.get(), "client");
    write_pem("client.crt", [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
    write_pem("client.key", [&](FILE* f) {
      return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_pem("other.key", [&](FILE* f) {
      return PEM_write_PrivateKey(f, other.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    std::ofstream(dir / "garbage.pem") << "not a certificate\n";
    std::filesystem::copy_file("/etc/ssl/certs/ca-certificates.crt", dir / "ca.pem",
                               std::filesystem::copy_options::overwrite_existing);
  }
  ~TlsFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  template <typename Write>
  void write_pem(const char* file, Write write) {
    std::unique_ptr<FILE, decltype(&fclose)> f(fopen((dir / file).c_str(), "w"), fclose);
    REQUIRE(f);
    REQUIRE(write(f.get()) == 1);
  }
  // Loads `yaml` as the file config.yaml in the directory.
  mag::config::LoadResult load(const std::string& yaml) const {
    std::ofstream(dir / "config.yaml") << yaml;
    return mag::config::load_file((dir / "config.yaml").string());
  }
  std::string error_of(const std::string& yaml) const {
    auto result = load(yaml);
    return result.error ? result.error->message : "";
  }
};

}  // namespace mag::test
