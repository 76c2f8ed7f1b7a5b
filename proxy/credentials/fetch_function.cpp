#include "proxy/credentials/fetch_function.h"

#include <chrono>

namespace mag::credentials {

FetchFunction http_fetch_function(event_base* base) {
  return [base](http::FetchRequest request, http::FetchOptions options,
                std::function<void(http::FetchResult)> done) {
    return http::http_request(base, std::move(request), std::move(options), std::move(done));
  };
}

http::FetchOptions token_fetch_options(const config::OAuthClient& client) {
  http::FetchOptions options;
  options.timeout = client.timeout;
  options.ca_file = client.ca_file;
  options.max_body_bytes = 256 * 1024;
  return options;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mag::credentials
