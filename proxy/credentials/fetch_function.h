// How the token sources reach the network: a function with the shape of
// http_request (common/fetch/http_fetch.h), so that tests inject a fake one
// and the gateway the real one on its main loop. A wall clock in
// milliseconds is injected the same way.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "common/fetch/http_fetch.h"
#include "proxy/config/upstream_credentials.h"

namespace mag::credentials {

using FetchFunction = std::function<std::unique_ptr<http::Fetch>(
    http::FetchRequest, http::FetchOptions, std::function<void(http::FetchResult)>)>;

// http_request on `base` (http:// or verified https://).
FetchFunction http_fetch_function(event_base* base);

// A token endpoint's or a discovery document's fetch: the client's
// timeout and CA bundle, a small body cap.
http::FetchOptions token_fetch_options(const config::OAuthClient& client);

using Clock = std::function<int64_t()>;  // milliseconds since the epoch
int64_t wall_clock_ms();

}  // namespace mag::credentials
