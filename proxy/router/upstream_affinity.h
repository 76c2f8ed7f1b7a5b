// The router's side of several endpoints per upstream
// (docs/transport.md "Several endpoints"): which endpoint a request must go to
// (its Mcp-Session-Id's), what the gateway learns from a response (a new
// session, a session ended by DELETE or 404), and the answer when a session's endpoint is gone.
#pragma once

#include <optional>

#include "common/http/http_message.h"
#include "common/upstream/upstream_endpoints.h"
#include "common/upstream/upstream_pool.h"
#include "proxy/config/config.h"
#include "proxy/router/local_reply.h"

namespace mag::proxy {

// The endpoint the request's Mcp-Session-Id is bound to, if any. Only
// upstreams with several endpoints keep affinity.
std::optional<size_t> affine_endpoint(http::UpstreamEndpoints& endpoints,
                                      const http::RequestHead& request);

// After the response head from `endpoint`: a 2xx that names a session (the
// response's Mcp-Session-Id, else the request's) binds it to `endpoint`; a
// 2xx to DELETE, or a 404, for the request's session ends the binding.
void learn_affinity(http::UpstreamEndpoints& endpoints, const http::RequestHead& request,
                    const http::ResponseHead& response, size_t endpoint);

// The request's session lives on an endpoint that cannot be reached: to the
// client its session is gone. 404 is what the Streamable HTTP transport
// prescribes for a terminated session (the client then re-initializes);
// JSON-RPC error -32001 "Session not found" like the SDK servers. The
// binding is dropped, so a later request with the id goes round-robin (and
// an endpoint that does not know it answers 404 too).
LocalReply session_lost(http::UpstreamEndpoints& endpoints, const http::RequestHead& request);

}  // namespace mag::proxy
