#include "common/tls/tls_failure.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace mag::tls {
namespace {

// The peer and we share no protocol version (e.g. a TLS 1.0/1.1-only server).
bool is_version_error(unsigned long e) {
  if (ERR_GET_LIB(e) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(e)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_WRONG_SSL_VERSION:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
      return true;
    default:
      return false;
  }
}

std::string reason_text(unsigned long e) {
  const char* text = ERR_reason_error_string(e);
  return text ? text : "unknown TLS error";
}

}  // namespace

TlsFailure classify_tls_failure(long verify_result, const std::vector<unsigned long>& errors) {
  if (verify_result != X509_V_OK) {
    return {TlsFailure::Reason::kVerify, X509_verify_cert_error_string(verify_result)};
  }
  for (unsigned long e : errors) {
    if (is_version_error(e)) return {TlsFailure::Reason::kProtocol, reason_text(e)};
  }
  for (unsigned long e : errors) {
    // Library 0: libevent's note of an SSL_ERROR_* code, not an OpenSSL error.
    if (ERR_GET_LIB(e) != 0) return {TlsFailure::Reason::kHandshake, reason_text(e)};
  }
  return {TlsFailure::Reason::kHandshake, "the server closed the connection during the handshake"};
}

const char* to_string(TlsFailure::Reason reason) {
  switch (reason) {
    case TlsFailure::Reason::kVerify:
      return "verify";
    case TlsFailure::Reason::kProtocol:
      return "protocol";
    case TlsFailure::Reason::kHandshake:
      return "handshake";
  }
  return "handshake";
}

}  // namespace mag::tls
