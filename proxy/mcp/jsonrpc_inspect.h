// Reads just enough of a JSON-RPC request body (MCP over Streamable HTTP) to
// authorize it: the method of every message, and the name or URI that
// per-name rules look up: params.name of tools/call and prompts/get,
// params.uri of resources/read, resources/subscribe and
// resources/unsubscribe, and params.ref of completion/complete (a prompt
// name or a resource template's uri). Single messages and batches (2025-03-26 clients)
// alike. The body is
// hostile: its size and nesting depth are capped before jansson parses it,
// and duplicate keys are refused so that the gateway and the upstream can
// never read two different method names out of one body.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mag::mcp {

struct JsonRpcMessage {
  enum class Kind { kRequest, kNotification, kResponse };
  Kind kind = Kind::kRequest;
  std::string method;       // empty for responses
  std::string tool_name;    // tools/call only: params.name
  std::string prompt_name;  // prompts/get: params.name; completion/complete: params.ref.name
  // resources/read, /subscribe, /unsubscribe: params.uri; completion/complete:
  // params.ref.uri (a URI template)
  std::string resource_uri;
  std::string id;  // compact JSON of the id (`1`, `"a"`); empty for notifications
};

struct InspectLimits {
  size_t max_bytes = 1 << 20;
  size_t max_depth = 64;   // arrays/objects nested
  size_t max_batch = 256;  // messages in one batch array
};

struct InspectResult {
  enum class Status {
    kOk,
    kTooLarge,        // > max_bytes (413)
    kTooDeep,         // nesting > max_depth (400)
    kMalformed,       // not JSON, duplicate keys, empty batch (400, JSON-RPC -32700/-32600)
    kInvalidRequest,  // JSON but not a JSON-RPC message we can authorize (400, -32600)
  };
  Status status = Status::kMalformed;
  bool batch = false;
  std::vector<JsonRpcMessage> messages;  // kOk only
  std::string detail;                    // for logs and error bodies; no body bytes
};

InspectResult inspect_jsonrpc(std::string_view body, const InspectLimits& limits = {});

// Maximum nesting depth of arrays/objects, scanning bytes (strings and their
// escapes skipped). Stops counting once `cap` is exceeded and returns cap+1.
size_t json_nesting_depth(std::string_view text, size_t cap);

}  // namespace mag::mcp
