// One-shot GET of a small document over http:// (JWKS, discovery documents),
// with a total deadline and a size cap. https:// goes through tls_client.h
// (verified TLS 1.2+). Redirects are never followed: a 3xx is returned as is.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace mag::http {

struct FetchResult {
  bool ok = false;  // transport succeeded and a full response was read
  int status = 0;   // HTTP status when ok
  std::string body;
  std::string error;          // why !ok (connect refused, timeout, too large, ...)
  std::string cache_control;  // the response's Cache-Control value, if any
};

struct FetchOptions {
  std::chrono::milliseconds timeout{5000};  // whole exchange
  size_t max_body_bytes = 1 << 20;
  std::string ca_file;  // https: PEM CA bundle to trust instead of the system store
};

class Fetch {
 public:
  virtual ~Fetch() = default;  // destroying it cancels; the callback does not run
};

// Starts the fetch; `done` runs once, from the event loop (never inside this call).
std::unique_ptr<Fetch> http_get(event_base* base, const std::string& url, FetchOptions options,
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
