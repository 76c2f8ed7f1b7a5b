#include "common/tls/tls_server_context.h"

#include <openssl/ssl.h>

#include "common/tls/openssl_error.h"

namespace mag::tls {

namespace {

// ALPN wire format, in our order of preference.
constexpr unsigned char kAlpnProtocols[] = "\x02h2\x08http/1.1";
constexpr unsigned char kAlpnHttp1Only[] = "\x08http/1.1";

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) noexcept {
  const bool h2 = *static_cast<const bool*>(arg);
  const unsigned char* ours = h2 ? kAlpnProtocols : kAlpnHttp1Only;
  const unsigned ours_len =
      static_cast<unsigned>(h2 ? sizeof kAlpnProtocols - 1 : sizeof kAlpnHttp1Only - 1);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, ours, ours_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: HTTP/1.1 without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

// TLS 1.2+, server cipher preference, no renegotiation, no session tickets
// tied to a key we never rotate; the certificate chain and key from PEM files.
SslCtxPtr make_server_context(const std::string& certificate, const std::string& private_key,
                              const bool* h2, std::string* error) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    *error = first_openssl_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  // TLS 1.2: forward-secret AEAD suites only (TLS 1.3 suites are all fine).
  SSL_CTX_set_cipher_list(ctx.get(),
                          "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1:!RC4:!3DES");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), certificate.c_str()) != 1) {
    *error = "certificate " + certificate + ": " + first_openssl_error();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "private key " + private_key + ": " + first_openssl_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    *error = "private key does not match the certificate: " + first_openssl_error();
    return nullptr;
  }
  SSL_CTX_set_alpn_select_cb(ctx.get(), &select_alpn, const_cast<bool*>(h2));
  return ctx;
}

}  // namespace mag::tls
