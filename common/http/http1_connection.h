// The HTTP/1.1 side of HttpServer: one accepted connection, parsed with
// Http1Parser, one request at a time (pipelined requests wait in the input
// buffer), responses streamed head then body, chunked when their length is
// unknown. A connection that turns out to speak HTTP/2 (ALPN "h2", or the
// h2c preface on cleartext) hands its bufferevent over.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>

#include "common/core/c_handles.h"
#include "common/http/server_connection.h"
#include "common/http/server_options.h"
#include "common/http/server_stream.h"

namespace mag::http {

// Takes over a connection whose first bytes (or ALPN) say HTTP/2; the bytes
// already read stay in the bufferevent's input.
using HandOverToHttp2 = std::function<void(BufferEventPtr, ConnectionInfo)>;

// `factory`, `options` and `accepting` must outlive the connection (they live
// in the HttpServer). `done` runs from the connection's own deferred event
// once it may be destroyed; `to_http2` runs at most once, after which the
// connection only waits for `done`.
std::unique_ptr<ServerConnection> make_http1_connection(event_base* base, BufferEventPtr bev,
                                                        ConnectionInfo info,
                                                        const HandlerFactory& factory,
                                                        const ServerOptions& options,
                                                        const bool& accepting, ConnectionDone done,
                                                        HandOverToHttp2 to_http2);

}  // namespace mag::http
