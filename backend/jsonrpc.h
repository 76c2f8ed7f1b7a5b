// JSON-RPC 2.0 message shapes as MCP uses them: classifying a parsed message
// and building responses. jansson values only; no transport concerns here.
#pragma once

#include <jansson.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/core/c_handles.h"

namespace mag::backend::jsonrpc {

// Standard JSON-RPC error codes (and the MCP SDK's transport-level ones).
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerError = -32000;      // transport errors (SDK convention)
inline constexpr int kSessionNotFound = -32001;  // SDK convention

enum class Kind { kRequest, kNotification, kResponse, kInvalid };

struct Message {
  Kind kind = Kind::kInvalid;
  std::string method;        // requests and notifications
  json_t* id = nullptr;      // borrowed from the parsed value; requests and responses
  json_t* params = nullptr;  // borrowed; may be null
  std::string invalid_reason;
};

// Classifies one element (an object, or anything else -> kInvalid). A request
// id must be a string or an integer (MCP forbids null ids); params, when
// present, must be an object (MCP never uses positional params).
Message classify(json_t* value);

// {"jsonrpc":"2.0","id":<id or null>,"result":<result_json>}, where
// `result_json` is compact JSON text (dump() of a value, or a pre-rendered
// result). Responses are rendered as text so that the common results need no
// jansson tree per request.
std::string render_result(const json_t* id, std::string_view result_json);
// {"jsonrpc":"2.0","id":<id or null>,"error":{"code":..,"message":..}}.
JsonPtr make_error(json_t* id, int code, std::string_view message);

// Compact serialisation (no newlines, so it fits one SSE data line).
std::string dump(const json_t* value);
// Appends dump(value) to `out`: integers without jansson's snprintf, other
// values through a stack buffer rather than a heap one.
void append_dump(std::string* out, const json_t* value);

}  // namespace mag::backend::jsonrpc
