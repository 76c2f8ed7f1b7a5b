#include "proxy/mcp/request_screen.h"

#include <array>
#include <string>
#include <string_view>

#include "common/http/content_length.h"
#include "proxy/router/local_reply.h"
#include "proxy/router/media_type.h"

namespace mag::proxy {
namespace {

// The MCP transport's own headers: the gateway keys sessions (and their
// owner, and the upstream endpoint that holds them) on the first value.
constexpr std::array<std::string_view, 4> kSingleValueHeaders = {
    "Mcp-Session-Id", "MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"};

// -32600 for a request the gateway will not read; -32000 (as the MCP SDKs
// answer a wrong Content-Type) for a body it does not read as JSON.
LocalReply invalid_request(const std::string& message) {
  return json_document(400, jsonrpc_error_without_id(-32600, "Invalid Request: " + message));
}

LocalReply unsupported_media_type(const std::string& message) {
  return json_document(415, jsonrpc_error_without_id(-32000, "Unsupported Media Type: " + message));
}

// True when the head announces a body: a Content-Length that is not 0, or
// any Transfer-Encoding (even a chunked body that turns out empty).
bool announces_body(const http::HeaderMap& headers) {
  if (headers.has("transfer-encoding")) return true;
  for (const auto& field : headers) {
    if (!http::iequals(field.name, "content-length")) continue;
    const auto length = http::parse_content_length(field.value);
    if (!length || *length != 0) return true;
  }
  return false;
}

std::optional<LocalReply> screen_content_type(const http::HeaderMap& headers) {
  const size_t fields = headers.count("content-type");
  if (fields == 0) return unsupported_media_type("Content-Type must be application/json");
  if (fields > 1) return invalid_request("more than one Content-Type field");
  const auto media_type = parse_media_type(*headers.get("content-type"));
  if (!media_type || !is_plain_json(*media_type)) {
    return unsupported_media_type(
        "Content-Type must be application/json, with no parameter but charset=utf-8");
  }
  return std::nullopt;
}

std::optional<LocalReply> screen_content_encoding(const http::HeaderMap& headers) {
  const size_t fields = headers.count("content-encoding");
  if (fields == 0) return std::nullopt;
  if (fields == 1 && http::iequals(http::trim_ows(*headers.get("content-encoding")), "identity")) {
    return std::nullopt;
  }
  LocalReply reply = unsupported_media_type("Content-Encoding must be identity");
  reply.head.headers.add("Accept-Encoding", "identity");
  return reply;
}

}  // namespace

std::optional<LocalReply> screen_mcp_headers(const http::HeaderMap& headers) {
  for (std::string_view name : kSingleValueHeaders) {
    const std::string_view* value = headers.get(name);
    if (!value) continue;
    if (headers.count(name) > 1 || value->find(',') != std::string_view::npos) {
      return invalid_request("exactly one " + std::string(name) + " value is allowed");
    }
  }
  return std::nullopt;
}

std::optional<LocalReply> screen_inspected_request(const http::RequestHead& request) {
  if (request.method != "POST") {
    if (!announces_body(request.headers)) return std::nullopt;
    return invalid_request("a " + request.method + " request must not have a body");
  }
  if (auto refusal = screen_content_type(request.headers)) return refusal;
  return screen_content_encoding(request.headers);
}

}  // namespace mag::proxy
