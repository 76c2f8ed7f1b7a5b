// One-shot GET of a small document over http:// (JWKS, discovery documents),
// with a total deadline and a size cap. https:// goes through https_fetch.h
// (verified TLS 1.2+). Redirects are never followed: a 3xx is returned as is.
// http_request sends another method with headers and a body (the doctor's
// MCP initialize probe) under the same limits.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http/http_message.h"
#include "common/upstream/upstream_tls.h"

namespace mag::http {

// What stopped a fetch, so that a caller can say which step failed.
enum class FetchError {
  kNone,
  kDns,       // the host name did not resolve
  kConnect,   // refused, unreachable
  kTimeout,   // the deadline passed (connect or response)
  kTls,       // handshake or certificate verification
  kProtocol,  // malformed response, connection closed or reset mid-response
  kTooLarge,  // the body exceeds max_body_bytes
  kInvalid,   // bad URL, or the fetch could not be started
};
std::string_view to_string(FetchError e);  // "dns", "connect", "timeout", ...

struct FetchResult {
  bool ok = false;  // transport succeeded and a full response was read
  int status = 0;   // HTTP status when ok
  std::string body;
  FetchError kind = FetchError::kNone;  // why !ok
  std::string error;                    // why !ok, for people (DNS, connect, TLS name the host)
  std::string cache_control;            // the response's Cache-Control value, if any
  HeaderMap headers;                    // the response's header fields
};

struct FetchRequest {
  std::string method = "GET";
  std::string url;
  // Sent as given; a Host here replaces the URL's. Never framing headers:
  // Content-Length comes from `body`.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent with Content-Length when not empty
};

struct FetchOptions {
  std::chrono::milliseconds timeout{5000};  // whole exchange
  size_t max_body_bytes = 1 << 20;
  std::string ca_file;  // https: PEM CA bundle to trust instead of the system store
  // https: an upstream's TLS settings (CA bundle, client certificate, the
  // name to verify) in place of `ca_file`, so a check of an upstream
  // connects as the gateway's forwarded requests do.
  std::shared_ptr<const UpstreamTls> upstream_tls;
};

class Fetch {
 public:
  virtual ~Fetch() = default;  // destroying it cancels; the callback does not run
};

// Starts the fetch; `done` runs once, from the event loop (never inside this call).
std::unique_ptr<Fetch> http_get(event_base* base, const std::string& url, FetchOptions options,
                                std::function<void(FetchResult)> done);
std::unique_ptr<Fetch> http_request(event_base* base, FetchRequest request, FetchOptions options,
                                    std::function<void(FetchResult)> done);

struct ParsedUrl {
  std::string scheme;          // "http" / "https", lower-cased
  std::string host;            // without brackets for IPv6
  uint16_t port = 0;           // default filled in
  std::string path_and_query;  // "/" when empty
};
// parse_absolute_url (common/http/url.h) for a request: visible ASCII only,
// host lower-cased, default port filled in, fragment dropped.
bool parse_url(const std::string& url, ParsedUrl* out);

}  // namespace mag::http
