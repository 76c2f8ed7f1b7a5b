// https:// upstreams in the config: scheme, default port, CA bundle, client
// certificate and key, server name; every file read and checked at load,
// errors naming file:line:column.
#include <doctest/doctest.h>

#include <string>

#include "proxy/config/config.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/tls_test_files.h"

namespace {

using mag::test::config_with_upstream;
using mag::test::TlsFiles;

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
