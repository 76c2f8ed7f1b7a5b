// One-shot request on top of UpstreamPool (one pool per fetch, one
// connection, Connection: close); https:// URLs go to https_fetch.cpp.
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

// The pool's connect-failure detail for a name that did not resolve
// (common/upstream/upstream_connection.cpp).
constexpr std::string_view kResolveFailure = "cannot resolve: ";

std::string host_port(const ParsedUrl& url) {
  const std::string host =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  return host + ":" + std::to_string(url.port);
}

// A pool error as what failed, naming the host.
std::pair<FetchError, std::string> describe(ClientError error, std::string_view detail,
                                            const ParsedUrl& url) {
  const std::string where = " (" + host_port(url) + ")";
  switch (error) {
    case ClientError::kConnectFailed:
      if (detail.starts_with(kResolveFailure)) {
        return {FetchError::kDns, "DNS failure: cannot resolve host '" + url.host + "' (" +
                                      std::string(detail.substr(kResolveFailure.size())) + ")"};
      }
      return {FetchError::kConnect, "connect failed: " + std::string(detail) + where};
    case ClientError::kConnectTimeout:
    case ClientError::kResponseTimeout:
    case ClientError::kIdleTimeout:
      return {FetchError::kTimeout, std::string(to_string(error)) + where};
    case ClientError::kReset:
    case ClientError::kProtocolError:
      return {FetchError::kProtocol,
              std::string(to_string(error)) + ": " + std::string(detail) + where};
    case ClientError::kTlsVerify:
    case ClientError::kTlsProtocol:
    case ClientError::kTlsHandshake:
      return {FetchError::kTls, "TLS failure: " + std::string(detail) + where};
    case ClientError::kPoolExhausted:
      break;
  }
  return {FetchError::kInvalid, std::string(to_string(error)) + ": " + std::string(detail)};
}

class FetchImpl final : public Fetch, public ClientStreamCallbacks {
 public:
  FetchImpl(event_base* base, FetchOptions options, std::function<void(FetchResult)> done)
      : base_(base),
        options_(options),
        // The stream goes first: it closes the connection unless the response completed.
        completion_(base, options.max_body_bytes, std::move(done), [this] { stream_.reset(); }) {}

  void start(FetchRequest request) {
    if (!completion_.usable()) return;  // nothing can be reported; done never runs
    if (!parse_url(request.url, &url_))
      return completion_.fail_later(FetchError::kInvalid, "invalid URL");

    // The total deadline below decides; the pool's own timers only back it up.
    PoolOptions pool_options;
    const auto backstop = options_.timeout + std::chrono::seconds(1);
    pool_options.connect_timeout = backstop;
    pool_options.response_header_timeout = backstop;
    pool_options.idle_timeout = backstop;
    pool_options.max_connections = 1;
    pool_options.max_idle_connections = 0;
    pool_ = std::make_unique<UpstreamPool>(base_, url_.host, url_.port, pool_options);

    RequestHead head = request_head(request, url_.path_and_query);
    const bool has_body = !request.body.empty();
    if (has_body) head.headers.add("Content-Length", std::to_string(request.body.size()));
    stream_ = pool_->start(std::move(head), /*end_stream=*/!has_body, *this);
    if (has_body) stream_->send_body(request.body, /*end_stream=*/true);
    completion_.arm_deadline(options_.timeout);
  }

  void on_response_head(ResponseHead&& head, bool end_stream) override {
    if (!completion_.take_head(head)) return completion_.fail(FetchError::kTooLarge, "too large");
    if (end_stream) completion_.succeed();
  }

  void on_response_body(std::string_view data, bool end_stream) override {
    if (!completion_.take_body(data)) return completion_.fail(FetchError::kTooLarge, "too large");
    if (end_stream) completion_.succeed();
  }

  void on_error(ClientError error, std::string_view detail) override {
    auto [kind, message] = describe(error, detail, url_);
    completion_.fail(kind, std::move(message));
  }

 private:
  event_base* base_;
  FetchOptions options_;
  ParsedUrl url_;
  // Declared after the pool: the stream goes first, so the pool's destructor
  // finds no exchange to report.
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<ClientStream> stream_;
  // Last: its timer is freed first, and `release` still finds stream_.
  FetchCompletion completion_;
};

}  // namespace

std::string_view to_string(FetchError e) {
  switch (e) {
    case FetchError::kNone:
      return "none";
    case FetchError::kDns:
      return "dns";
    case FetchError::kConnect:
      return "connect";
    case FetchError::kTimeout:
      return "timeout";
    case FetchError::kTls:
      return "tls";
    case FetchError::kProtocol:
      return "protocol";
    case FetchError::kTooLarge:
      return "too_large";
    case FetchError::kInvalid:
      return "invalid";
  }
  return "invalid";
}

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

std::unique_ptr<Fetch> http_request(event_base* base, FetchRequest request, FetchOptions options,
                                    std::function<void(FetchResult)> done) {
  ParsedUrl parsed;
  if (parse_url(request.url, &parsed) && parsed.scheme == "https") {
    return https_request(base, parsed, request, options, std::move(done));
  }
  auto fetch = std::make_unique<FetchImpl>(base, options, std::move(done));
  fetch->start(std::move(request));
  return fetch;
}

std::unique_ptr<Fetch> http_get(event_base* base, const std::string& url, FetchOptions options,
                                std::function<void(FetchResult)> done) {
  FetchRequest request;
  request.url = url;
  return http_request(base, std::move(request), std::move(options), std::move(done));
}

}  // namespace mag::http
