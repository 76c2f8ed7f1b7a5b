#include "backend/mcp_endpoint.h"

#include <array>
#include <utility>

#include "backend/add_tool.h"
#include "backend/jsonrpc.h"
#include "common/core/log.h"

namespace mag::backend {
namespace {

constexpr std::array<std::string_view, 3> kSupportedVersions = {"2025-11-25", "2025-06-18",
                                                                "2025-03-26"};
constexpr std::string_view kSessionHeader = "Mcp-Session-Id";
constexpr std::string_view kProtocolHeader = "MCP-Protocol-Version";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The media type of one header element, without parameters.
std::string_view media_type(std::string_view element) {
  return trim(element.substr(0, element.find(';')));
}

// True when some element of some Accept field names exactly `type`. Like the
// official SDK we do not treat wildcards as acceptance: an MCP client must
// list both application/json and text/event-stream.
bool accepts(const http::HeaderMap& headers, std::string_view type) {
  for (const auto& field : headers) {
    if (!http::iequals(field.name, "Accept")) continue;
    std::string_view rest = field.value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      if (http::iequals(media_type(rest.substr(0, comma)), type)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

bool is_json_content(const http::HeaderMap& headers) {
  const std::string_view* type = headers.get("Content-Type");
  return type && http::iequals(media_type(*type), "application/json");
}

Reply empty_reply(int status) {
  Reply reply;
  reply.status = status;
  return reply;
}

// `body` is compact JSON text.
Reply json_text_reply(int status, std::string body) {
  Reply reply;
  reply.status = status;
  reply.headers.add("Content-Type", "application/json");
  reply.body = std::move(body);
  return reply;
}

Reply json_reply(int status, const json_t* value) {
  return json_text_reply(status, jsonrpc::dump(value));
}

Reply method_not_allowed(bool sse) {
  Reply reply = json_error_reply(405, jsonrpc::kServerError, "Method not allowed.");
  reply.headers.add("Allow", sse ? "GET, POST, DELETE" : "POST, DELETE");
  return reply;
}

bool is_initialize(json_t* message) {
  const json_t* method = json_object_get(message, "method");
  return json_is_string(method) && std::string_view(json_string_value(method)) == "initialize";
}

bool batch_contains_initialize(json_t* batch) {
  size_t index;
  json_t* element;
  json_array_foreach(batch, index, element) {
    if (json_is_object(element) && is_initialize(element)) return true;
  }
  return false;
}

// The initialize result: capabilities, serverInfo, the negotiated version.
JsonPtr initialize_result(std::string_view version, const std::string& server_version) {
  JsonPtr tools = json_own(json_object());
  json_object_set_new(tools.get(), "listChanged", json_false());
  JsonPtr capabilities = json_own(json_object());
  json_object_set_new(capabilities.get(), "tools", tools.release());
  JsonPtr info = json_own(json_object());
  json_object_set_new(info.get(), "name", json_string("mcp-add-server"));
  json_object_set_new(info.get(), "title", json_string("MCP add server"));
  json_object_set_new(info.get(), "version", json_string(server_version.c_str()));
  JsonPtr result = json_own(json_object());
  json_object_set_new(result.get(), "protocolVersion",
                      json_stringn(version.data(), version.size()));
  json_object_set_new(result.get(), "capabilities", capabilities.release());
  json_object_set_new(result.get(), "serverInfo", info.release());
  json_object_set_new(result.get(), "instructions",
                      json_string("Call the tool 'add' with two numbers a and b to get a + b."));
  return result;
}

JsonPtr tools_list_result() {
  JsonPtr tools = json_own(json_array());
  json_array_append_new(tools.get(), add_tool_definition().release());
  JsonPtr result = json_own(json_object());
  json_object_set_new(result.get(), "tools", tools.release());
  return result;
}

}  // namespace

bool is_supported_protocol_version(std::string_view version) {
  for (auto v : kSupportedVersions) {
    if (v == version) return true;
  }
  return false;
}

std::string sse_event(std::string_view event, std::string_view id, std::string_view data) {
  std::string out;
  if (!event.empty()) out.append("event: ").append(event).append("\n");
  if (!id.empty()) out.append("id: ").append(id).append("\n");
  while (true) {
    const size_t newline = data.find('\n');
    out.append("data: ").append(data.substr(0, newline)).append("\n");
    if (newline == std::string_view::npos) break;
    data.remove_prefix(newline + 1);
  }
  out.append("\n");
  return out;
}

std::string host_of_authority(std::string_view authority) {
  if (authority.empty() || authority.find_first_of("/@ \t") != std::string_view::npos) return {};
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return {};
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {};
    return std::string(authority.substr(0, close + 1));
  }
  const size_t colon = authority.find(':');
  if (authority.find(':', colon == std::string_view::npos ? colon : colon + 1) !=
      std::string_view::npos) {
    return {};  // a bare IPv6 address is not a valid authority
  }
  return std::string(authority.substr(0, colon));
}

std::string host_of_origin(std::string_view origin) {
  size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const std::string_view scheme = origin.substr(0, scheme_end);
  if (!http::iequals(scheme, "http") && !http::iequals(scheme, "https")) return {};
  std::string_view authority = origin.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find('/'));
  return host_of_authority(authority);
}

Reply json_error_reply(int status, int code, std::string_view message) {
  JsonPtr error = jsonrpc::make_error(nullptr, code, message);
  return json_reply(status, error.get());
}

McpEndpoint::McpEndpoint(EndpointOptions options)
    : options_(std::move(options)),
      sessions_(options_.max_sessions, options_.idle_timeout, options_.now),
      tools_list_json_(jsonrpc::dump(tools_list_result().get())) {}

std::optional<Reply> McpEndpoint::check_host_and_origin(const http::RequestHead& head) const {
  if (options_.allowed_hosts.empty()) return std::nullopt;
  auto allowed = [&](const std::string& host) {
    if (host.empty()) return false;
    for (const auto& h : options_.allowed_hosts) {
      if (http::iequals(h, host)) return true;
    }
    return false;
  };
  const std::string_view* host = head.headers.get("Host");
  if (!host || head.headers.count("Host") != 1 || !allowed(host_of_authority(*host))) {
    return json_error_reply(421, jsonrpc::kServerError, "Misdirected Request: Host not allowed");
  }
  const std::string_view* origin = head.headers.get("Origin");
  if (origin && (head.headers.count("Origin") != 1 || !allowed(host_of_origin(*origin)))) {
    return json_error_reply(403, jsonrpc::kServerError, "Forbidden: Origin not allowed");
  }
  return std::nullopt;
}

Reply McpEndpoint::handle(const http::RequestHead& head, std::string_view body) {
  if (std::optional<Reply> refused = check_host_and_origin(head)) return std::move(*refused);
  if (head.path != options_.path) {
    return json_error_reply(404, jsonrpc::kServerError, "Not found.");
  }
  if (head.method == "POST") return handle_post(head, body);
  if (head.method == "GET") return handle_get(head);
  if (head.method == "DELETE") return handle_delete(head);
  return method_not_allowed(options_.sse);
}

SessionTable::Session* McpEndpoint::require_session(const http::RequestHead& head, Reply* error,
                                                    std::string_view* id) {
  const auto* value = head.headers.get(kSessionHeader);
  if (!value) {
    *error = json_error_reply(400, jsonrpc::kServerError,
                              "Bad Request: Mcp-Session-Id header is required");
    return nullptr;
  }
  if (head.headers.count(kSessionHeader) > 1) {
    *error = json_error_reply(400, jsonrpc::kServerError,
                              "Bad Request: Mcp-Session-Id header must be a single value");
    return nullptr;
  }
  *id = *value;
  SessionTable::Session* session = sessions_.touch(*id);
  if (!session) *error = json_error_reply(404, jsonrpc::kSessionNotFound, "Session not found");
  return session;
}

bool McpEndpoint::check_protocol_header(const http::RequestHead& head, Reply* error) const {
  const std::string_view* version = head.headers.get(kProtocolHeader);
  // Absent: the spec says to assume 2025-03-26, which we support.
  if (!version || is_supported_protocol_version(*version)) return true;
  *error = json_error_reply(
      400, jsonrpc::kServerError,
      "Bad Request: Unsupported protocol version (supported versions: 2025-11-25, 2025-06-18, "
      "2025-03-26)");
  return false;
}

Reply McpEndpoint::handle_post(const http::RequestHead& head, std::string_view body) {
  if (!accepts(head.headers, "application/json") || !accepts(head.headers, "text/event-stream")) {
    return json_error_reply(
        406, jsonrpc::kServerError,
        "Not Acceptable: Client must accept both application/json and text/event-stream");
  }
  if (!is_json_content(head.headers)) {
    return json_error_reply(415, jsonrpc::kServerError,
                            "Unsupported Media Type: Content-Type must be application/json");
  }
  json_error_t parse_error;
  // Duplicate keys are refused: a gateway in front may read the first and we the last.
  JsonPtr parsed = json_own(
      json_loadb(body.data(), body.size(), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &parse_error));
  if (!parsed) return json_error_reply(400, jsonrpc::kParseError, "Parse error: Invalid JSON");

  if (json_is_object(parsed.get()) && is_initialize(parsed.get())) {
    return handle_initialize(head, parsed.get());
  }
  const bool batch = json_is_array(parsed.get());
  if (batch && batch_contains_initialize(parsed.get())) {
    return json_error_reply(400, jsonrpc::kInvalidRequest,
                            "Invalid Request: initialize must not be part of a batch");
  }

  Reply error;
  std::string_view session_id;
  SessionTable::Session* session = require_session(head, &error, &session_id);
  if (!session) return error;
  if (!check_protocol_header(head, &error)) return error;

  if (!batch) {
    jsonrpc::Message message = jsonrpc::classify(parsed.get());
    if (message.kind == jsonrpc::Kind::kInvalid) {
      JsonPtr invalid = jsonrpc::make_error(message.id, jsonrpc::kInvalidRequest,
                                            "Invalid Request: " + message.invalid_reason);
      return json_reply(400, invalid.get());
    }
    return respond(dispatch(message));
  }

  // Batches exist only in 2025-03-26 (removed in 2025-06-18).
  if (session->protocol_version != kDefaultProtocolVersion) {
    return json_error_reply(400, jsonrpc::kInvalidRequest,
                            "Invalid Request: JSON-RPC batches are not supported in protocol "
                            "version " +
                                session->protocol_version);
  }
  const size_t n = json_array_size(parsed.get());
  if (n == 0 || n > options_.max_batch) {
    return json_error_reply(
        400, jsonrpc::kInvalidRequest,
        n == 0 ? "Invalid Request: empty batch" : "Invalid Request: batch too large");
  }
  std::vector<std::string> responses;
  for (size_t i = 0; i < n; ++i) {
    std::string response = dispatch(jsonrpc::classify(json_array_get(parsed.get(), i)));
    if (!response.empty()) responses.push_back(std::move(response));
  }
  return respond_batch(std::move(responses));
}

Reply McpEndpoint::handle_initialize(const http::RequestHead& head, json_t* message) {
  if (head.headers.has(kSessionHeader)) {
    // A client re-initializes by sending initialize without a session id.
    return json_error_reply(400, jsonrpc::kInvalidRequest,
                            "Invalid Request: Server already initialized");
  }
  jsonrpc::Message parsed = jsonrpc::classify(message);
  if (parsed.kind != jsonrpc::Kind::kRequest) {
    JsonPtr invalid =
        jsonrpc::make_error(parsed.id, jsonrpc::kInvalidRequest,
                            "Invalid Request: initialize must be a request with an id");
    return json_reply(400, invalid.get());
  }
  const json_t* requested = json_object_get(parsed.params, "protocolVersion");
  if (!json_is_string(requested)) {
    JsonPtr invalid = jsonrpc::make_error(parsed.id, jsonrpc::kInvalidParams,
                                          "Invalid params: protocolVersion must be a string");
    return json_reply(400, invalid.get());
  }
  const std::string_view asked(json_string_value(requested), json_string_length(requested));
  const std::string version(is_supported_protocol_version(asked) ? asked : kLatestProtocolVersion);
  std::optional<std::string> id = sessions_.create(version);
  if (!id) {
    log::warn("backend", "session table full; refusing initialize");
    return json_error_reply(503, jsonrpc::kServerError, "Service Unavailable: too many sessions");
  }
  log::debug("backend", "session created, protocol " + version);
  Reply reply = respond(jsonrpc::render_result(
      parsed.id, jsonrpc::dump(initialize_result(version, options_.server_version).get())));
  reply.headers.add(std::string(kSessionHeader), *id);
  return reply;
}

std::string McpEndpoint::dispatch(const jsonrpc::Message& message) {
  switch (message.kind) {
    case jsonrpc::Kind::kInvalid:
      return jsonrpc::dump(jsonrpc::make_error(message.id, jsonrpc::kInvalidRequest,
                                               "Invalid Request: " + message.invalid_reason)
                               .get());
    case jsonrpc::Kind::kNotification:
      // notifications/initialized, cancelled, ...: nothing to do for one
      // stateless tool; unknown notifications are ignored as the spec asks.
      return {};
    case jsonrpc::Kind::kResponse:
      return {};  // we never send requests, so there is nothing to match
    case jsonrpc::Kind::kRequest:
      return dispatch_request(message.method, message.id, message.params);
  }
  return {};
}

std::string McpEndpoint::dispatch_request(std::string_view method, json_t* id, json_t* params) {
  auto error = [id](int code, std::string_view text) {
    return jsonrpc::dump(jsonrpc::make_error(id, code, text).get());
  };
  if (method == "ping") return jsonrpc::render_result(id, "{}");
  if (method == "tools/list") return jsonrpc::render_result(id, tools_list_json_);
  if (method == "tools/call") {
    const json_t* name = json_object_get(params, "name");
    if (!json_is_string(name)) {
      return error(jsonrpc::kInvalidParams, "Invalid params: name must be a string");
    }
    const std::string_view tool(json_string_value(name), json_string_length(name));
    if (tool != kAddToolName) {
      return error(jsonrpc::kInvalidParams, "Unknown tool: " + log::sanitize(tool, 100));
    }
    return jsonrpc::render_result(id, call_add_tool(json_object_get(params, "arguments")));
  }
  if (method == "initialize") {
    return error(jsonrpc::kInvalidRequest, "Invalid Request: Server already initialized");
  }
  return error(jsonrpc::kMethodNotFound, "Method not found: " + log::sanitize(method, 100));
}

Reply McpEndpoint::sse_reply() {
  Reply reply;
  reply.sse = true;
  reply.headers.add("Content-Type", "text/event-stream");
  reply.headers.add("Cache-Control", "no-cache");
  return reply;
}

Reply McpEndpoint::respond(std::string response) {
  if (response.empty()) return empty_reply(202);
  if (!options_.sse) return json_text_reply(200, std::move(response));
  Reply reply = sse_reply();
  reply.body = sse_event("message", std::to_string(next_event_id_++), response);
  return reply;
}

Reply McpEndpoint::respond_batch(std::vector<std::string> responses) {
  if (responses.empty()) return empty_reply(202);
  if (!options_.sse) {
    // Each element is one compact JSON value: the array is their join.
    std::string array = "[";
    for (const auto& r : responses) {
      if (array.size() > 1) array += ',';
      array += r;
    }
    array += ']';
    return json_text_reply(200, std::move(array));
  }
  Reply reply = sse_reply();
  for (const auto& r : responses) {
    reply.body += sse_event("message", std::to_string(next_event_id_++), r);
  }
  return reply;
}

Reply McpEndpoint::handle_get(const http::RequestHead& head) {
  if (!options_.sse) return method_not_allowed(false);
  if (!accepts(head.headers, "text/event-stream")) {
    return json_error_reply(406, jsonrpc::kServerError,
                            "Not Acceptable: Client must accept text/event-stream");
  }
  Reply error;
  std::string_view session_id;
  SessionTable::Session* session = require_session(head, &error, &session_id);
  if (!session) return error;
  if (!check_protocol_header(head, &error)) return error;
  if (session->stream_open) {
    return json_error_reply(409, jsonrpc::kServerError,
                            "Conflict: Only one SSE stream is allowed per session");
  }
  session->stream_open = true;
  Reply reply = sse_reply();
  reply.open_stream = true;
  reply.session_id = session_id;
  // A comment, not an event: we keep no event history, so we offer no id to
  // resume from; the comment makes the head and a first byte reach the client.
  reply.body = ": stream open\n\n";
  return reply;
}

Reply McpEndpoint::handle_delete(const http::RequestHead& head) {
  Reply error;
  std::string_view session_id;
  if (!require_session(head, &error, &session_id)) return error;
  if (!check_protocol_header(head, &error)) return error;
  sessions_.end(session_id);
  log::debug("backend", "session ended by client");
  return empty_reply(200);
}

bool McpEndpoint::attach_stream(const std::string& session_id, std::function<void()> end) {
  SessionTable::Session* session = sessions_.touch(session_id);
  if (!session) return false;
  session->stream_open = true;
  session->end_stream = std::move(end);
  return true;
}

void McpEndpoint::detach_stream(const std::string& session_id) {
  SessionTable::Session* session = sessions_.touch(session_id);
  if (!session) return;
  session->stream_open = false;
  session->end_stream = nullptr;
}

}  // namespace mag::backend
