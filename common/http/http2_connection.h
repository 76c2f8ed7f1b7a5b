// HTTP/2 server connections (nghttp2) behind the same ServerStream /
// ServerStreamHandler model as HTTP/1.1: HttpServer hands a connection over
// here when ALPN selected "h2" or when a cleartext connection starts with the
// HTTP/2 connection preface (h2c with prior knowledge). The application never
// learns which codec serves a stream.
#pragma once

#include <event2/bufferevent.h>

#include <functional>
#include <memory>

#include "common/core/c_handles.h"
#include "common/http/server_connection.h"
#include "common/http/server_options.h"
#include "common/http/server_stream.h"

namespace mag::http {

class Http2Connection final : public ServerConnection {
 public:
  // `factory` and `options` must outlive the connection (they live in the
  // HttpServer). Bytes already read into `bev`'s input are processed by start().
  Http2Connection(event_base* base, BufferEventPtr bev, ConnectionInfo info,
                  const HandlerFactory& factory, const ServerOptions& options,
                  const bool& accepting, ConnectionDone done);
  ~Http2Connection() override;
  Http2Connection(const Http2Connection&) = delete;
  Http2Connection& operator=(const Http2Connection&) = delete;

  // Sends the server SETTINGS and processes buffered input; false when the
  // nghttp2 session could not be created (the caller drops the connection).
  bool start();
  void shutdown_from_server() override;
  void drain() override;

  class Stream;  // one exchange; implementation detail

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mag::http
