// The doctor's upstream.token check against a token endpoint in memory.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/admin/upstream_token_check.h"
#include "tests/unit/proxy/credentials/fake_token_endpoint.h"

using namespace mag;
using proxy::Severity;

namespace {

struct Endpoint {
  std::vector<http::FetchRequest> requests;
  std::vector<std::pair<int, std::string>> answers;  // in order
  proxy::DoctorSend send() {
    return [this](const http::FetchRequest& request, const http::FetchOptions&) {
      requests.push_back(request);
      http::FetchResult result;
      result.ok = true;
      const auto& [status, body] = answers.at(requests.size() - 1);
      result.status = status;
      result.body = body;
      result.headers.add("Content-Type", "application/json");
      return result;
    };
  }
};

config::Upstream cc_upstream() {
  config::Upstream upstream;
  upstream.client_credentials.emplace();
  upstream.client_credentials->client = testing::test_oauth_client();
  return upstream;
}

}  // namespace

TEST_CASE("upstream.token: a client_credentials token issued is OK and used for the probe") {
  Endpoint as;
  as.answers = {{200, R"({"access_token":"probe-token","token_type":"Bearer","expires_in":60})"}};
  const auto check = proxy::check_upstream_token(cc_upstream(), as.send(), 1'700'000'000);
  CHECK(check.severity == Severity::kOk);
  CHECK(check.authorization == "Bearer probe-token");
  CHECK(check.message.find("probe-token") == std::string::npos);
  REQUIRE(as.requests.size() == 1);
  CHECK(as.requests[0].url == "https://as.example/token");
}

TEST_CASE("upstream.token: a rejected client is an error without the AS's text") {
  Endpoint as;
  as.answers = {{401, R"({"error":"invalid_client","error_description":"secret s3cret wrong"})"}};
  const auto check = proxy::check_upstream_token(cc_upstream(), as.send(), 1'700'000'000);
  CHECK(check.severity == Severity::kError);
  CHECK(check.authorization.empty());
  CHECK(check.message.find("rejected") != std::string::npos);
  CHECK(check.message.find("s3cret") == std::string::npos);
}

TEST_CASE("upstream.token: token_exchange with a discovered endpoint; a refused probe is OK") {
  Endpoint as;
  config::Upstream upstream;
  upstream.token_exchange.emplace();
  upstream.token_exchange->client = testing::test_oauth_client();
  upstream.token_exchange->client.token_endpoint.clear();
  upstream.token_exchange->client.issuer = "https://as.example";
  upstream.token_exchange->audience = "https://mcp.example";
  as.answers = {{200, R"({"issuer":"https://as.example","token_endpoint":"https://as.example/t"})"},
                {400, R"({"error":"invalid_grant"})"}};
  const auto check = proxy::check_upstream_token(upstream, as.send(), 1'700'000'000);
  CHECK(check.severity == Severity::kOk);
  CHECK(check.authorization.empty());
  REQUIRE(as.requests.size() == 2);
  CHECK(as.requests[1].url == "https://as.example/t");
  CHECK(as.requests[1].body.find("token-exchange") != std::string::npos);
}

TEST_CASE("upstream.token: a 5xx token endpoint is an error") {
  Endpoint as;
  as.answers = {{503, "busy"}};
  const auto check = proxy::check_upstream_token(cc_upstream(), as.send(), 1'700'000'000);
  CHECK(check.severity == Severity::kError);
  CHECK(check.message.find("no usable answer") != std::string::npos);
}
