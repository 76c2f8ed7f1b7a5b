// The client side of verified TLS (https:// fetches): TLS 1.2 or later, the
// peer's certificate chain checked against the system CA store or one PEM
// bundle, and the host name (or IP address) checked against the certificate.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "common/core/c_handles.h"

namespace mag::tls {

// A context that verifies the peer against `ca_file` (PEM bundle), or the
// system store when empty. Null with the reason in `error`.
SslCtxPtr make_client_context(const std::string& ca_file, std::string* error);

// Adds a client certificate chain (PEM) and its private key (PEM) to `ctx`
// for servers that require one (mTLS). False with the reason in `error`
// when a file cannot be read or the key does not match the certificate.
bool use_client_certificate(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                            std::string* error);

// A connection that expects `host`: SNI for names (not for IP literals,
// RFC 6066 §3), and the identity the certificate must carry.
SslPtr make_client_session(SSL_CTX* ctx, const std::string& host, std::string* error);

// Whether `host` (without brackets) is an IPv4 or IPv6 literal.
bool is_ip_literal(const std::string& host);

}  // namespace mag::tls
