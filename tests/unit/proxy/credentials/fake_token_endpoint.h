// A token endpoint in memory for the token sources' tests: every request
// the source makes is recorded with its callback, and the test answers it
// (or not) when it likes. The clock is the test's too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxy/credentials/fetch_function.h"

namespace mag::testing {

class FakeTokenEndpoint {
 public:
  struct Call {
    http::FetchRequest request;
    http::FetchOptions options;
    std::function<void(http::FetchResult)> done;
  };

  credentials::FetchFunction function() {
    return [this](http::FetchRequest request, http::FetchOptions options,
                  std::function<void(http::FetchResult)> done) {
      calls.push_back(Call{std::move(request), std::move(options), std::move(done)});
      return std::make_unique<http::Fetch>();
    };
  }
  credentials::Clock clock() {
    return [this] { return now_ms; };
  }

  // Answers call `i` with an HTTP response.
  void answer(size_t i, int status, const std::string& body) {
    http::FetchResult result;
    result.ok = true;
    result.status = status;
    result.body = body;
    result.headers.add("Content-Type", "application/json");
    calls.at(i).done(std::move(result));
  }
  void fail(size_t i, http::FetchError kind) {
    http::FetchResult result;
    result.kind = kind;
    result.error = std::string(http::to_string(kind));
    calls.at(i).done(std::move(result));
  }
  static std::string token(const std::string& access_token, int expires_in) {
    return R"({"access_token":")" + access_token + R"(","token_type":"Bearer","expires_in":)" +
           std::to_string(expires_in) + "}";
  }

  std::vector<Call> calls;
  int64_t now_ms = 1'700'000'000'000;
};

}  // namespace mag::testing
