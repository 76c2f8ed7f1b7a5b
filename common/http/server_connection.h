// What HttpServer keeps per accepted connection, whatever its codec: the
// HTTP/1.1 connection (http1_connection.h) and the HTTP/2 connection
// (http2_connection.h) both implement it.
#pragma once

#include <functional>

namespace mag::http {

class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  // The server is being destroyed: abort every exchange now.
  virtual void shutdown_from_server() = 0;
  // Graceful shutdown: finish the exchanges in flight, accept no new ones,
  // close when idle.
  virtual void drain() = 0;
};

// Called (from a deferred event, never from inside a callback of the
// connection) when the connection has finished and may be destroyed.
using ConnectionDone = std::function<void(ServerConnection*)>;

}  // namespace mag::http
