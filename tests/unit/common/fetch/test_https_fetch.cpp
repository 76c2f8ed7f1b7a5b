// https:// through http_get: failures that need no certificate on the server
// side. Verified handshakes, CA files and host names are covered end to end
// by tests/integration/tokens_jwks.test.mjs (openssl-generated test CA).
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "common/core/c_handles.h"
#include "common/fetch/http_fetch.h"
#include "tests/unit/raw_test_server.h"

using namespace std::chrono_literals;

namespace {

struct TlsFixture {
  mag::EventBasePtr base{event_base_new()};
  std::optional<mag::http::FetchResult> result;
  int calls = 0;
  std::unique_ptr<mag::http::Fetch> fetch(const std::string& url,
                                          mag::http::FetchOptions options = {}) {
    return mag::http::http_get(base.get(), url, options, [this](mag::http::FetchResult r) {
      ++calls;
      result = std::move(r);
    });
  }
  bool run() {
    return mag::testing::run_until(
        base.get(), [&] { return result.has_value(); }, 5000ms);
  }
};

}  // namespace

TEST_CASE("tls_client: a plain-HTTP server on an https URL is a failed fetch, not a fallback") {
  TlsFixture f;
  mag::testing::RawServer server(f.base.get());
  int requests = 0;
  server.on_request = [&](mag::testing::RawConn& c, const mag::testing::RawRequest&) {
    ++requests;
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"keys\":[]}");
  };
  auto fetch = f.fetch("https://127.0.0.1:" + std::to_string(server.port()) + "/jwks");
  CHECK(f.calls == 0);  // never from inside http_get()
  REQUIRE(f.run());
  CHECK_FALSE(f.result->ok);
  CHECK(f.result->body.empty());
  CHECK(requests == 0);  // the ClientHello is not an HTTP request
  CHECK(f.calls == 1);
  // The server waits for a request line that never comes: the deadline ends it.
  CHECK(f.result->kind == mag::http::FetchError::kTimeout);
}

TEST_CASE("tls_client: plain text where the TLS handshake should be is a TLS failure") {
  TlsFixture f;
  mag::testing::RawServer server(f.base.get());
  auto fetch = f.fetch("https://127.0.0.1:" + std::to_string(server.port()) + "/jwks");
  REQUIRE(mag::testing::run_until(f.base.get(), [&] { return server.accepted() == 1; }));
  server.conn(0).write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(f.run());
  CHECK_FALSE(f.result->ok);
  CHECK(f.result->kind == mag::http::FetchError::kTls);
  CHECK_MESSAGE(
      f.result->error.find("TLS failure with 127.0.0.1:" + std::to_string(server.port())) == 0,
      f.result->error);
}

TEST_CASE("tls_client: a host name that does not resolve is a DNS failure, not a TLS one") {
  TlsFixture f;
  auto fetch = f.fetch("https://dev.mcp-auth-gateway.invalid/.well-known/openid-configuration");
  REQUIRE(f.run());
  CHECK_FALSE(f.result->ok);
  CHECK(f.result->kind == mag::http::FetchError::kDns);
  CHECK(f.result->error.find("DNS failure: cannot resolve host 'dev.mcp-auth-gateway.invalid'") ==
        0);
}

TEST_CASE("tls_client: connection refused and a missing CA file fail cleanly") {
  SUBCASE("refused") {
    TlsFixture f;
    auto fetch = f.fetch("https://127.0.0.1:1/jwks");
    REQUIRE(f.run());
    CHECK_FALSE(f.result->ok);
    CHECK(f.result->kind == mag::http::FetchError::kConnect);
    CHECK_MESSAGE(f.result->error.find("connect failed: cannot connect to 127.0.0.1:1") == 0,
                  f.result->error);
  }
  SUBCASE("ca_file that does not exist") {
    TlsFixture f;
    mag::http::FetchOptions options;
    options.ca_file = "/nonexistent/ca.pem";
    auto fetch = f.fetch("https://127.0.0.1:1/jwks", options);
    REQUIRE(f.run());
    CHECK_FALSE(f.result->ok);
    CHECK(f.result->error.find("cannot load CA certificates") != std::string::npos);
  }
}

TEST_CASE("tls_client: destroying the fetch cancels it without a callback") {
  TlsFixture f;
  mag::testing::RawServer server(f.base.get());
  auto fetch = f.fetch("https://127.0.0.1:" + std::to_string(server.port()) + "/jwks");
  fetch.reset();
  mag::testing::run_for(f.base.get(), 200ms);
  CHECK(f.calls == 0);
}
