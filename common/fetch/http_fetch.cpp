// One-shot GET on top of UpstreamPool (one pool per fetch, one connection,
// Connection: close). The transport is chosen by scheme in start(); HTTPS will
// plug in there with a TLS-capable pool.
#include "common/fetch/http_fetch.h"

#include <charconv>
#include <optional>

#include "common/fetch/fetch_completion.h"
#include "common/fetch/https_fetch.h"
#include "common/upstream/upstream_pool.h"

namespace mag::http {

namespace {

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool is_ipv6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
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
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) return false;
  ParsedUrl result;
  for (char c : std::string_view(url).substr(0, scheme_end)) result.scheme += ascii_lower(c);
  if (result.scheme == "http") {
    result.port = 80;
  } else if (result.scheme == "https") {
    result.port = 443;
  } else {
    return false;
  }
  for (char c : url) {
    if (!is_target_char(c)) return false;
  }

  std::string_view rest = std::string_view(url).substr(scheme_end + 3);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  // Credentials in URLs are refused: they end up in logs.
  if (authority.find('@') != std::string_view::npos) return false;

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view host = authority.substr(1, close - 1);
    if (host.empty()) return false;
    for (char c : host) {
      if (!is_ipv6_char(c)) return false;
    }
    result.host.assign(host);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port_text = after.substr(1);
      if (port_text.empty()) return false;
    }
  } else {
    const size_t colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (host.empty()) return false;
    for (char c : host) {
      if (!is_host_char(c)) return false;
      result.host += ascii_lower(c);
    }
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return false;
    }
  }
  if (!port_text.empty()) {
    auto port = parse_decimal(port_text);
    if (!port || *port == 0 || *port > 65535) return false;
    result.port = static_cast<uint16_t>(*port);
  }

  // Built by appending: GCC 12's -Wrestrict misfires on `"/" + std::string`
  // and on assigning a literal here at -O3.
  std::string path;
  path.reserve(target.size() + 1);
  if (target.empty() || target.front() == '?') path.push_back('/');
  path.append(target.data(), target.size());
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
