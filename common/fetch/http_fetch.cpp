// One-shot GET on top of UpstreamPool (one pool per fetch, one connection,
// Connection: close). The transport is chosen by scheme in start(); HTTPS will
// plug in there with a TLS-capable pool.
#include "common/fetch/http_fetch.h"

#include <algorithm>

#include "common/fetch/fetch_completion.h"
#include "common/fetch/https_fetch.h"
#include "common/http/url.h"
#include "common/upstream/upstream_pool.h"

namespace mag::http {

namespace {

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// Visible ASCII only: no spaces, no controls, nothing that could split a request line.
bool is_target_char(char c) {
  return c > 0x20 && c < 0x7f;
}

class FetchImpl final : public Fetch, public ClientStreamCallbacks {
 public:
  FetchImpl(event_base* base, FetchOptions options, std::function<void(FetchResult)> done)
      : base_(base),
        options_(options),
        // The stream goes first: it closes the connection unless the response completed.
        completion_(base, options.max_body_bytes, std::move(done), [this] { stream_.reset(); }) {}

  void start(const std::string& url) {
    if (!completion_.usable()) return;  // nothing can be reported; done never runs
    ParsedUrl parsed;
    if (!parse_url(url, &parsed)) return completion_.fail_later("invalid URL");

    // The total deadline below decides; the pool's own timers only back it up.
    PoolOptions pool_options;
    const auto backstop = options_.timeout + std::chrono::seconds(1);
    pool_options.connect_timeout = backstop;
    pool_options.response_header_timeout = backstop;
    pool_options.idle_timeout = backstop;
    pool_options.max_connections = 1;
    pool_options.max_idle_connections = 0;
    pool_ = std::make_unique<UpstreamPool>(base_, parsed.host, parsed.port, pool_options);

    RequestHead head;
    head.method = "GET";
    head.target = parsed.path_and_query;
    head.headers.add("Accept", "application/json, */*;q=0.5");
    head.headers.add("User-Agent", "mcp-auth-gateway");
    head.headers.add("Connection", "close");
    stream_ = pool_->start(std::move(head), /*end_stream=*/true, *this);
    completion_.arm_deadline(options_.timeout);
  }

  void on_response_head(ResponseHead&& head, bool end_stream) override {
    if (!completion_.take_head(head)) return completion_.fail("too large");
    if (end_stream) completion_.succeed();
  }

  void on_response_body(std::string_view data, bool end_stream) override {
    if (!completion_.take_body(data)) return completion_.fail("too large");
    if (end_stream) completion_.succeed();
  }

  void on_error(ClientError error, std::string_view detail) override {
    completion_.fail(std::string(to_string(error)) + ": " + std::string(detail));
  }

 private:
  event_base* base_;
  FetchOptions options_;
  // Declared after the pool: the stream goes first, so the pool's destructor
  // finds no exchange to report.
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<ClientStream> stream_;
  // Last: its timer is freed first, and `release` still finds stream_.
  FetchCompletion completion_;
};

}  // namespace

bool parse_url(const std::string& url, ParsedUrl* out) {
  // Only visible ASCII reaches the request line.
  if (!std::all_of(url.begin(), url.end(), is_target_char)) return false;
  Url parsed;
  if (parse_absolute_url(url, &parsed) != UrlError::kNone) return false;
  ParsedUrl result;
  result.port = parsed.effective_port();
  result.scheme = std::move(parsed.scheme);
  for (char c : parsed.host) result.host += ascii_lower(c);
  // Built by appending: GCC 12's -Wrestrict misfires on `"/" + std::string`
  // and on assigning a literal here at -O3. The fragment is never sent.
  std::string path;
  path.reserve(parsed.path.size() + (parsed.query ? parsed.query->size() + 2 : 1));
  if (parsed.path.empty()) path.push_back('/');
  path.append(parsed.path);
  if (parsed.query) {
    path.push_back('?');
    path.append(*parsed.query);
  }
  result.path_and_query = std::move(path);
  *out = std::move(result);
  return true;
}

std::unique_ptr<Fetch> http_get(event_base* base, const std::string& url, FetchOptions options,
                                std::function<void(FetchResult)> done) {
  ParsedUrl parsed;
  if (parse_url(url, &parsed) && parsed.scheme == "https") {
    return https_get(base, parsed, options, std::move(done));
  }
  auto fetch = std::make_unique<FetchImpl>(base, options, std::move(done));
  fetch->start(url);
  return fetch;
}

}  // namespace mag::http
