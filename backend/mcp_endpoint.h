// The MCP Streamable HTTP endpoint without sockets: one complete request
// (head + body) in, one Reply out. The HTTP glue (mcp_http_handler) sends the
// reply and, for a standalone GET stream, keeps the response open.
//
// Protocol revisions 2025-03-26, 2025-06-18 and 2025-11-25. Choices where the
// spec leaves room are listed in docs/backend.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/jsonrpc.h"
#include "backend/session_table.h"
#include "common/core/version.h"
#include "common/http/http_message.h"

namespace mag::backend {

inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";
// When a request carries no MCP-Protocol-Version header (spec: assume this).
inline constexpr std::string_view kDefaultProtocolVersion = "2025-03-26";
bool is_supported_protocol_version(std::string_view version);

struct Reply {
  int status = 200;
  http::HeaderMap headers;
  std::string body;
  // The body is text/event-stream. With open_stream the response stays open
  // after `body` (a standalone GET stream of `session_id`); otherwise it ends.
  bool sse = false;
  bool open_stream = false;
  std::string session_id;
};

struct EndpointOptions {
  std::string path = "/mcp";
  bool sse = false;  // answer POST requests with an SSE stream; allow GET streams
  std::string server_version = kProjectVersion;
  size_t max_sessions = 10000;
  std::chrono::seconds idle_timeout{3600};
  size_t max_batch = 100;
  // DNS-rebinding protection: when non-empty, the Host header's host must be
  // one of these (any port) or the request is 421, and an Origin header, when
  // present, must name one of them or the request is 403. main() fills it with
  // localhost names when the server is bound to a loopback address.
  std::vector<std::string> allowed_hosts;
  SessionTable::Now now;  // tests inject a clock
};

class McpEndpoint {
 public:
  explicit McpEndpoint(EndpointOptions options);

  Reply handle(const http::RequestHead& head, std::string_view body);

  // For a Reply with open_stream: `end` is called (once) when the session
  // ends; false when the session is already gone.
  bool attach_stream(const std::string& session_id, std::function<void()> end);
  // The stream closed on its own (client went away); the session stays.
  void detach_stream(const std::string& session_id);

  size_t expire_idle() { return sessions_.expire_idle(); }
  size_t session_count() const { return sessions_.size(); }
  const EndpointOptions& options() const { return options_; }

 private:
  // Empty when the Host/Origin headers pass the allow-list, else the reply.
  std::optional<Reply> check_host_and_origin(const http::RequestHead& head) const;
  Reply handle_post(const http::RequestHead& head, std::string_view body);
  Reply handle_get(const http::RequestHead& head);
  Reply handle_delete(const http::RequestHead& head);
  Reply handle_initialize(const http::RequestHead& head, json_t* message);
  // Resolves the request's session: nullptr and `*error` set when it fails.
  // `*id` views the request's header.
  SessionTable::Session* require_session(const http::RequestHead& head, Reply* error,
                                         std::string_view* id);
  bool check_protocol_header(const http::RequestHead& head, Reply* error) const;
  // One message -> its response as compact JSON text, or empty for
  // notifications and responses.
  std::string dispatch(const jsonrpc::Message& message);
  std::string dispatch_request(std::string_view method, json_t* id, json_t* params);
  // The reply to one message (`response` empty: 202) or to a batch.
  Reply respond(std::string response);
  Reply respond_batch(std::vector<std::string> responses);
  static Reply sse_reply();

  EndpointOptions options_;
  SessionTable sessions_;
  const std::string tools_list_json_;  // the tools/list result never changes
  uint64_t next_event_id_ = 1;
};

// The host of a Host header value or of an Origin ("http://h:1" -> "h",
// "[::1]:80" -> "[::1]"); empty when it cannot be parsed.
std::string host_of_authority(std::string_view authority);
std::string host_of_origin(std::string_view origin);

// One SSE event; a multi-line `data` becomes several data: lines.
std::string sse_event(std::string_view event, std::string_view id, std::string_view data);

// JSON-RPC error reply with an HTTP status (transport-level errors).
Reply json_error_reply(int status, int code, std::string_view message);

}  // namespace mag::backend
