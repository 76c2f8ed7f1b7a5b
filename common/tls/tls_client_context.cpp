#include "common/tls/tls_client_context.h"

#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include "common/tls/openssl_error.h"

namespace mag::tls {

bool is_ip_literal(const std::string& host) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  const std::string probe = host.find(':') != std::string::npos ? "[" + host + "]:1" : host + ":1";
  return evutil_parse_sockaddr_port(probe.c_str(), reinterpret_cast<sockaddr*>(&ss), &len) == 0;
}

// Context per fetch: fetches are rare (minutes apart), and a per-provider CA
// file must never leak into another provider's trust.
SslCtxPtr make_client_context(const std::string& ca_file, std::string* error) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    *error = "SSL_CTX_new failed";
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx.get())
                         : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    *error = "cannot load CA certificates" + (ca_file.empty() ? "" : " from " + ca_file) + ": " +
             openssl_errors();
    return nullptr;
  }
  return ctx;
}

bool use_client_certificate(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                            std::string* error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    *error = "cannot load the client certificate from " + cert_file + ": " + openssl_errors();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "cannot load the client private key from " + key_file + ": " + openssl_errors();
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    *error =
        "the client private key in " + key_file + " does not match the certificate in " + cert_file;
    ERR_clear_error();
    return false;
  }
  return true;
}

SslPtr make_client_session(SSL_CTX* ctx, const std::string& host, std::string* error) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl) {
    *error = "SSL_new failed";
    return nullptr;
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok;
  if (is_ip_literal(host)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    ok = X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) &&
         SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  }
  if (ok != 1) {
    *error = "cannot set the expected host name";
    return nullptr;
  }
  return ssl;
}

}  // namespace mag::tls
