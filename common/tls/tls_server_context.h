// The TLS context of a listener: TLS 1.2+, forward-secret AEAD suites, the
// certificate chain and key from PEM files, and ALPN offering h2 (when
// enabled) and http/1.1. HttpServer makes one at listen() and a new one on
// reload_tls(); each accepted connection takes an SSL from it.
#pragma once

#include <string>

#include "common/core/c_handles.h"

namespace mag::tls {

// `h2` is read at every handshake (ALPN selection): it must outlive the
// context. Null with the reason in `error` when a file cannot be used.
SslCtxPtr make_server_context(const std::string& certificate, const std::string& private_key,
                              const bool* h2, std::string* error);

}  // namespace mag::tls
