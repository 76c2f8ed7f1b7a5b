// HTTP glue for the MCP endpoint: collects one request from the HttpServer,
// asks McpEndpoint for the reply and sends it. For a standalone GET stream it
// keeps the response open, writes a keep-alive comment every 15 s, and ends
// it when the session ends.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "backend/mcp_endpoint.h"
#include "common/core/c_handles.h"
#include "common/http/http_server.h"

namespace mag::backend {

class McpHttpHandler final : public http::ServerStreamHandler {
 public:
  McpHttpHandler(http::ServerStream& stream, McpEndpoint& endpoint, size_t max_body_bytes,
                 std::chrono::milliseconds keepalive_interval = std::chrono::seconds(15));
  ~McpHttpHandler() override;

  void on_request_head(http::RequestHead&& head, bool end_stream) override;
  void on_request_body(std::string_view data, bool end_stream) override;
  void on_reset() override;

 private:
  // Sends the whole reply; the handler may be destroyed by the last send, so
  // callers must not touch members afterwards.
  void respond();
  void send(Reply reply);
  void open_stream(Reply reply);
  void stop_stream();
  static void on_keepalive(evutil_socket_t, short, void* self) noexcept;
  static void on_session_end(evutil_socket_t, short, void* self) noexcept;

  http::ServerStream& stream_;
  McpEndpoint& endpoint_;
  size_t max_body_bytes_;
  std::chrono::milliseconds keepalive_interval_;
  http::RequestHead head_;
  std::string body_;
  bool body_too_large_ = false;
  bool responded_ = false;
  std::string stream_session_;  // non-empty while attached to a session
  EventPtr keepalive_;
  EventPtr session_end_;
};

// The factory for HttpServer.
http::HandlerFactory make_mcp_handler_factory(McpEndpoint& endpoint, size_t max_body_bytes);

}  // namespace mag::backend
