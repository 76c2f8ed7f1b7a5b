// classify_tls_failure: the verify result wins, then a protocol-version
// error, then any other OpenSSL error; the reason set is fixed.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/tls/tls_failure.h"

using mag::tls::classify_tls_failure;
using Reason = mag::tls::TlsFailure::Reason;

namespace {

// libssl's reason strings are loaded with the first SSL_CTX; this test makes none.
unsigned long ssl_error(int reason) {
  OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, nullptr);
  return ERR_PACK(ERR_LIB_SSL, 0, reason);
}

}  // namespace

TEST_CASE("tls_failure: a failed verification is 'verify' with OpenSSL's verify string") {
  auto f = classify_tls_failure(X509_V_ERR_CERT_HAS_EXPIRED,
                                {ssl_error(SSL_R_CERTIFICATE_VERIFY_FAILED)});
  CHECK(f.reason == Reason::kVerify);
  CHECK(f.text == "certificate has expired");
  CHECK(classify_tls_failure(X509_V_ERR_HOSTNAME_MISMATCH, {}).text == "hostname mismatch");
  CHECK(classify_tls_failure(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, {}).text ==
        "unable to get local issuer certificate");
}

TEST_CASE("tls_failure: no common protocol version is 'protocol'") {
  for (int reason :
       {SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_WRONG_SSL_VERSION,
        SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_VERSION_TOO_LOW}) {
    CAPTURE(reason);
    // Behind another error, too: any version error in the queue decides.
    auto f = classify_tls_failure(X509_V_OK, {ssl_error(SSL_R_BAD_PACKET), ssl_error(reason)});
    CHECK(f.reason == Reason::kProtocol);
    const char* expected = ERR_reason_error_string(ssl_error(reason));
    REQUIRE(expected != nullptr);
    CHECK(f.text == expected);
  }
}

TEST_CASE("tls_failure: anything else is 'handshake'") {
  auto f = classify_tls_failure(
      X509_V_OK, {ERR_PACK(0, 0, 1), ssl_error(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)});
  CHECK(f.reason == Reason::kHandshake);
  CHECK(f.text == "tlsv13 alert certificate required");
  auto closed = classify_tls_failure(X509_V_OK, {ERR_PACK(0, 0, 5)});  // libevent's own note only
  CHECK(closed.reason == Reason::kHandshake);
  CHECK(closed.text == "the server closed the connection during the handshake");
  CHECK(std::string(mag::tls::to_string(Reason::kVerify)) == "verify");
  CHECK(std::string(mag::tls::to_string(Reason::kProtocol)) == "protocol");
  CHECK(std::string(mag::tls::to_string(Reason::kHandshake)) == "handshake");
}
