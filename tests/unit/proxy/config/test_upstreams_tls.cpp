// https:// upstreams in the config: scheme, default port, CA bundle, client
// certificate and key, server name; every file read and checked at load,
// errors naming file:line:column.
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
#include "tests/unit/config_test_util.h"

namespace {

namespace fs = std::filesystem;
using mag::test::config_with_upstream;

// A directory with a config file and PEM files next to it: a self-signed
// certificate with its key, a second key that does not match it, and a
// file that is not PEM. Made with OpenSSL at test time.
struct TlsFiles {
  fs::path dir;
  TlsFiles() {
    dir = fs::temp_directory_path() / ("mag-upstream-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> other(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    REQUIRE((key && other && cert));
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("client"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key.get());
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    write_pem("client.crt", [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
    write_pem("client.key", [&](FILE* f) {
      return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_pem("other.key", [&](FILE* f) {
      return PEM_write_PrivateKey(f, other.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    std::ofstream(dir / "garbage.pem") << "not a certificate\n";
    fs::copy_file("/etc/ssl/certs/ca-certificates.crt", dir / "ca.pem",
                  fs::copy_options::overwrite_existing);
  }
  ~TlsFiles() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
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

void check_error(const std::string& error, const std::string& where, const std::string& message) {
  CAPTURE(error);
  CHECK(error.find("config.yaml:" + where) != std::string::npos);
  CHECK(error.find(message) != std::string::npos);
}

}  // namespace

TEST_CASE("upstreams_tls: https:// upstreams default to port 443 and the system store") {
  auto result =
      mag::config::load_string(config_with_upstream("    url: https://mcp.example.com/base\n"));
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& u = result.config->upstreams.at("backend");
  CHECK(u.tls);
  CHECK(u.port == 443);
  CHECK(u.endpoints[0].port == 443);
  CHECK(u.base_path == "/base");
  CHECK(u.ca_file.empty());
  CHECK(u.tls_context != nullptr);

  auto plain = mag::config::load_string(config_with_upstream("    url: http://127.0.0.1:9000\n"));
  REQUIRE(plain.config);
  CHECK_FALSE(plain.config->upstreams.at("backend").tls);
  CHECK(plain.config->upstreams.at("backend").tls_context == nullptr);
}

TEST_CASE("upstreams_tls: relative files resolve against the config file's directory") {
  TlsFiles files;
  auto result = files.load(
      config_with_upstream("    endpoints: [https://127.0.0.1:9443, https://localhost:9444]\n"
                           "    ca_file: ca.pem\n"
                           "    client_cert_file: client.crt\n"
                           "    client_key_file: client.key\n"
                           "    tls_server_name: mcp.internal\n"));
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& u = result.config->upstreams.at("backend");
  CHECK(u.tls);
  CHECK(u.ca_file == (files.dir / "ca.pem").string());
  CHECK(u.client_cert_file == (files.dir / "client.crt").string());
  CHECK(u.client_key_file == (files.dir / "client.key").string());
  CHECK(u.tls_server_name == "mcp.internal");
  REQUIRE(u.tls_context != nullptr);
  CHECK(u.tls_context->settings().server_name == "mcp.internal");
}

TEST_CASE("upstreams_tls: bad TLS settings name file:line:column") {
  TlsFiles files;
  check_error(
      files.error_of(config_with_upstream("    endpoints: [http://a:1, https://b:2]\n")),
      "5:29:", "'https://b:2' does not use the first endpoint's scheme: every endpoint is http://");
  check_error(files.error_of(config_with_upstream("    url: ftp://a:1\n")),
              "5:10:", "must start with http:// or https://");
  check_error(files.error_of(config_with_upstream("    url: http://a:1\n    ca_file: ca.pem\n")),
              "6:5:", "upstreams.backend.ca_file: 'ca_file' needs an https:// upstream");
  check_error(files.error_of(
                  config_with_upstream("    url: http://a:1\n    client_cert_file: client.crt\n")),
              "6:5:", "'client_cert_file' needs an https:// upstream");
  check_error(
      files.error_of(config_with_upstream("    url: http://a:1\n    tls_server_name: a.example\n")),
      "6:5:", "'tls_server_name' needs an https:// upstream");
  check_error(files.error_of(
                  config_with_upstream("    url: https://a:1\n    client_cert_file: client.crt\n")),
              "6:5:", "'client_cert_file' and 'client_key_file' go together");
  check_error(files.error_of(
                  config_with_upstream("    url: https://a:1\n    client_key_file: client.key\n")),
              "6:5:", "'client_cert_file' and 'client_key_file' go together");
  check_error(
      files.error_of(config_with_upstream("    url: https://a:1\n    ca_file: missing.pem\n")),
      "6:14:", "cannot load CA certificates from " + (files.dir / "missing.pem").string());
  check_error(
      files.error_of(config_with_upstream("    url: https://a:1\n    ca_file: garbage.pem\n")),
      "6:14:", "cannot load CA certificates from");
  check_error(files.error_of(config_with_upstream("    url: https://a:1\n"
                                                  "    client_cert_file: garbage.pem\n"
                                                  "    client_key_file: client.key\n")),
              "6:23:", "cannot load the client certificate from");
  check_error(files.error_of(config_with_upstream("    url: https://a:1\n"
                                                  "    client_cert_file: client.crt\n"
                                                  "    client_key_file: missing.key\n")),
              "7:22:", "cannot load the client private key from");
  check_error(files.error_of(config_with_upstream("    url: https://a:1\n"
                                                  "    client_cert_file: client.crt\n"
                                                  "    client_key_file: other.key\n")),
              "7:22:", "cannot load the client private key from");
  check_error(
      files.error_of(config_with_upstream("    url: https://a:1\n    tls_server_name: \"a b\"\n")),
      "6:22:", "expected a host name or an IP address, got 'a b'");
}
