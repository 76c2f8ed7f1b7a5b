// parse_token_response: each outcome, and hostile answers from a token
// endpoint (huge, not JSON, nested, a token that would split a header,
// wrong token types and lifetimes).
#include <doctest/doctest.h>

#include <string>

#include "proxy/credentials/token_response.h"

namespace {

using mag::credentials::parse_token_response;
using mag::credentials::TokenResponse;
using Outcome = TokenResponse::Outcome;

TokenResponse answer(int status, const std::string& body) {
  mag::http::FetchResult result;
  result.ok = true;
  result.status = status;
  result.body = body;
  return parse_token_response(result);
}

void check_unavailable(const TokenResponse& response, const std::string& reason) {
  CHECK(response.outcome == Outcome::kUnavailable);
  CHECK(response.reason == reason);
  CHECK(response.access_token.empty());
}

}  // namespace

TEST_CASE("token_response: an issued token") {
  auto r = answer(200, R"({"access_token":"abc.DEF-123_~+/=","token_type":"Bearer",)"
                       R"("expires_in":3600,"scope":"mcp","refresh_token":"ignored"})");
  CHECK(r.outcome == Outcome::kIssued);
  CHECK(r.access_token == "abc.DEF-123_~+/=");
  CHECK(r.expires_in == std::chrono::seconds(3600));
  CHECK(r.reason.empty());
  SUBCASE("token_type in any case, N_A for token exchange") {
    for (const char* type : {"bearer", "BEARER", "N_A", "n_a"}) {
      CAPTURE(type);
      auto t = answer(200, std::string(R"({"access_token":"t","token_type":")") + type + "\"}");
      CHECK(t.outcome == Outcome::kIssued);
    }
  }
  SUBCASE("no expires_in: zero, the caller picks a default") {
    auto t = answer(200, R"({"access_token":"t","token_type":"Bearer"})");
    CHECK(t.outcome == Outcome::kIssued);
    CHECK(t.expires_in == std::chrono::seconds(0));
  }
  SUBCASE("an absurd lifetime is capped at a year") {
    auto t = answer(200, R"({"access_token":"t","token_type":"Bearer",)"
                         R"("expires_in":9223372036854775807})");
    CHECK(t.outcome == Outcome::kIssued);
    CHECK(t.expires_in == std::chrono::seconds(365LL * 24 * 3600));
  }
  SUBCASE("a token of exactly 8192 bytes") {
    const std::string token(8192, 'a');
    auto t = answer(200, R"({"access_token":")" + token + R"(","token_type":"Bearer"})");
    CHECK(t.outcome == Outcome::kIssued);
    CHECK(t.access_token == token);
  }
}

TEST_CASE("token_response: a 200 that is not a usable token response") {
  const char* bodies[] = {
      "",
      "not json",
      "<html>ok</html>",
      R"(["access_token","t"])",
      R"("access_token")",
      R"({"token_type":"Bearer"})",
      R"({"access_token":"","token_type":"Bearer"})",
      R"({"access_token":42,"token_type":"Bearer"})",
      R"({"access_token":{"a":1},"token_type":"Bearer"})",
      R"({"access_token":"t"})",
      R"({"access_token":"t","token_type":"MAC"})",
      R"({"access_token":"t","token_type":"DPoP"})",
      R"({"access_token":"t","token_type":"Bearer "})",
      R"({"access_token":"a\r\nX-Injected: 1","token_type":"Bearer"})",
      R"({"access_token":"a\nb","token_type":"Bearer"})",
      R"({"access_token":"a b","token_type":"Bearer"})",
      R"({"access_token":"a\u0000b","token_type":"Bearer"})",
      R"({"access_token":"caf\u00e9","token_type":"Bearer"})",
      R"({"access_token":"t","token_type":"Bearer","expires_in":-1})",
      R"({"access_token":"t","token_type":"Bearer","expires_in":"3600"})",
      R"({"access_token":"t","token_type":"Bearer","expires_in":36.5})",
      R"({"access_token":"t","token_type":"Bearer","expires_in":1e300})",
      R"({"access_token":"t","token_type":"Bearer","expires_in":null})",
      R"({"access_token":"t","access_token":"u","token_type":"Bearer"})",
      R"({"access_token":"t","token_type":"Bearer"} trailing)",
  };
  for (const char* body : bodies) {
    CAPTURE(body);
    check_unavailable(answer(200, body), "malformed");
  }
  SUBCASE("a token over 8192 bytes") {
    check_unavailable(answer(200, R"({"access_token":")" + std::string(8193, 'a') +
                                      R"(","token_type":"Bearer"})"),
                      "malformed");
  }
  SUBCASE("a huge body") {
    check_unavailable(answer(200, R"({"access_token":"t","token_type":"Bearer","pad":")" +
                                      std::string(1 << 20, 'x') + "\"}"),
                      "malformed");
  }
  SUBCASE("deep nesting") {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    check_unavailable(answer(200, deep), "malformed");
    check_unavailable(answer(200, R"({"access_token":"t","token_type":"Bearer","x":)" + deep + "}"),
                      "malformed");
  }
}

TEST_CASE("token_response: the AS refuses the request") {
  for (const char* code : {"invalid_request", "invalid_grant", "unsupported_grant_type",
                           "invalid_scope", "invalid_target", "access_denied"}) {
    for (int status : {400, 403}) {
      CAPTURE(code);
      CAPTURE(status);
      auto r = answer(status, std::string(R"({"error":")") + code +
                                  R"(","error_description":"subject eyJhbGciOi.secret"})");
      CHECK(r.outcome == Outcome::kRefused);
      CHECK(r.reason == code);
      CHECK(r.access_token.empty());
    }
  }
  SUBCASE("an unknown code is 'other', never echoed") {
    auto r = answer(400, R"({"error":"eyJhbGciOi.subject.token"})");
    CHECK(r.outcome == Outcome::kRefused);
    CHECK(r.reason == "other");
  }
  SUBCASE("a 400 without an OAuth error is no answer") {
    check_unavailable(answer(400, R"({"message":"bad"})"), "malformed");
    check_unavailable(answer(400, R"({"error":42})"), "malformed");
    check_unavailable(answer(400, "Bad Request"), "malformed");
  }
  SUBCASE("a token in a 400 is not issued") {
    auto r = answer(400, R"({"error":"invalid_grant","access_token":"t","token_type":"Bearer"})");
    CHECK(r.outcome == Outcome::kRefused);
    CHECK(r.access_token.empty());
  }
}

TEST_CASE("token_response: the AS refuses the gateway's own client") {
  for (const char* code : {"invalid_client", "unauthorized_client"}) {
    CAPTURE(code);
    auto r = answer(400, std::string(R"({"error":")") + code + "\"}");
    CHECK(r.outcome == Outcome::kClientRejected);
    CHECK(r.reason == code);
  }
  auto r = answer(401, R"({"error":"invalid_client"})");
  CHECK(r.outcome == Outcome::kClientRejected);
  CHECK(r.reason == "invalid_client");
  // A 401 is the client's credentials whatever its body says.
  CHECK(answer(401, "").outcome == Outcome::kClientRejected);
}

TEST_CASE("token_response: no answer") {
  SUBCASE("transport failures carry their kind") {
    mag::http::FetchResult result;
    result.ok = false;
    result.kind = mag::http::FetchError::kTimeout;
    check_unavailable(parse_token_response(result), "timeout");
    result.kind = mag::http::FetchError::kTls;
    result.body = R"({"access_token":"t","token_type":"Bearer"})";
    check_unavailable(parse_token_response(result), "tls");
  }
  SUBCASE("server errors") {
    for (int status : {500, 502, 503, 504}) {
      CAPTURE(status);
      check_unavailable(answer(status, R"({"access_token":"t","token_type":"Bearer"})"),
                        "server_error");
    }
  }
  SUBCASE("other statuses") {
    for (int status : {201, 204, 302, 404, 429}) {
      CAPTURE(status);
      check_unavailable(answer(status, R"({"access_token":"t","token_type":"Bearer"})"),
                        "malformed");
    }
  }
}
