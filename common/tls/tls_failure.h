// Why a TLS handshake failed, as a small fixed reason (for metric labels)
// and a human-readable text (for logs): the certificate did not verify,
// no common protocol version, or anything else in the handshake.
#pragma once

#include <string>
#include <vector>

namespace mag::tls {

struct TlsFailure {
  enum class Reason { kVerify, kProtocol, kHandshake };
  Reason reason = Reason::kHandshake;
  std::string text;  // X509 verify error string or OpenSSL reason; never peer data
};

// `verify_result`: SSL_get_verify_result() of the failed connection;
// `errors`: the OpenSSL error codes queued for it, oldest first.
TlsFailure classify_tls_failure(long verify_result, const std::vector<unsigned long>& errors);

// "verify", "protocol" or "handshake".
const char* to_string(TlsFailure::Reason reason);

}  // namespace mag::tls
