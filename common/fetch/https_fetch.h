// One-shot HTTPS request for small documents (JWKS, discovery): OpenSSL through
// libevent's bufferevent_openssl, TLS 1.2 or later, SNI, certificate chain
// verified against the system CA store (or one PEM bundle), host name (or
// IP address) checked against the certificate. Never falls back to plain
// HTTP or to an unverified connection. Used by http_request for https:// URLs.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string>

#include "common/fetch/http_fetch.h"

namespace mag::http {

// `url` must already be parsed with scheme "https" (request.url is not read
// again). `done` runs once, from the event loop; destroying the returned
// Fetch cancels it silently.
std::unique_ptr<Fetch> https_request(event_base* base, const ParsedUrl& url,
                                     const FetchRequest& request, const FetchOptions& options,
                                     std::function<void(FetchResult)> done);

}  // namespace mag::http
