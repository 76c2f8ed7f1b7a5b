#include "proxy/mcp/jsonrpc_inspect.h"

#include <jansson.h>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"

namespace mag::mcp {
namespace {

using Status = InspectResult::Status;

InspectResult failure(Status status, std::string detail) {
  InspectResult result;
  result.status = status;
  result.detail = std::move(detail);
  return result;
}

std::string compact_id(json_t* id) {
  return json::to_json_string(id, JSON_COMPACT | JSON_ENCODE_ANY).value_or("");
}

// Where a method's per-name rule finds its name: which member of params,
// and which field of the message receives it.
struct NamedTarget {
  const char* method;
  const char* param;
  std::string JsonRpcMessage::*field;
};

constexpr NamedTarget kNamedTargets[] = {
    {"tools/call", "name", &JsonRpcMessage::tool_name},
    {"prompts/get", "name", &JsonRpcMessage::prompt_name},
    {"resources/read", "uri", &JsonRpcMessage::resource_uri},
    {"resources/subscribe", "uri", &JsonRpcMessage::resource_uri},
    {"resources/unsubscribe", "uri", &JsonRpcMessage::resource_uri},
};

// A method with a per-name rule must name its target with a non-empty
// string: otherwise the gateway could not know what it is authorizing.
bool read_target(json_t* element, JsonRpcMessage* out, std::string* detail) {
  for (const NamedTarget& target : kNamedTargets) {
    if (out->method != target.method) continue;
    json_t* params = json_object_get(element, "params");
    json_t* value = json_is_object(params) ? json_object_get(params, target.param) : nullptr;
    if (!json_is_string(value) || json_string_length(value) == 0) {
      *detail = out->method + " without a string in params." + target.param;
      return false;
    }
    (out->*target.field).assign(json_string_value(value), json_string_length(value));
    return true;
  }
  return true;
}

// completion/complete names what it completes in params.ref: a prompt
// ({type: "ref/prompt", name}) or a resource template ({type:
// "ref/resource", uri}). The prompt and resource rules govern completions
// as they govern prompts/get and resources/read, so a completion cannot
// reveal the arguments of a prompt or template the token may not use. A
// ref of another type cannot be authorized: refused.
bool read_completion_ref(json_t* element, JsonRpcMessage* out, std::string* detail) {
  json_t* params = json_object_get(element, "params");
  json_t* ref = json_is_object(params) ? json_object_get(params, "ref") : nullptr;
  json_t* type = json_is_object(ref) ? json_object_get(ref, "type") : nullptr;
  const char* type_text = json_is_string(type) ? json_string_value(type) : "";
  const bool prompt = std::string_view(type_text) == "ref/prompt";
  const bool resource = std::string_view(type_text) == "ref/resource";
  if (!prompt && !resource) {
    *detail = "completion/complete without params.ref of type ref/prompt or ref/resource";
    return false;
  }
  const char* member = prompt ? "name" : "uri";
  json_t* value = json_object_get(ref, member);
  if (!json_is_string(value) || json_string_length(value) == 0) {
    *detail = std::string("completion/complete without a string in params.ref.") + member;
    return false;
  }
  std::string& field = prompt ? out->prompt_name : out->resource_uri;
  field.assign(json_string_value(value), json_string_length(value));
  return true;
}

// One element: a request (method + id), a notification (method, no id) or a
// response (result/error + id).
bool read_message(json_t* element, JsonRpcMessage* out, std::string* detail) {
  if (!json_is_object(element)) {
    *detail = "a JSON-RPC message must be an object";
    return false;
  }
  json_t* method = json_object_get(element, "method");
  const bool has_id = json_object_get(element, "id") != nullptr;
  if (!method) {
    if (json_object_get(element, "result") || json_object_get(element, "error")) {
      out->kind = JsonRpcMessage::Kind::kResponse;
      return true;
    }
    *detail = "a JSON-RPC message without method, result or error";
    return false;
  }
  if (!json_is_string(method)) {
    *detail = "method must be a string";
    return false;
  }
  out->kind = has_id ? JsonRpcMessage::Kind::kRequest : JsonRpcMessage::Kind::kNotification;
  if (has_id) out->id = compact_id(json_object_get(element, "id"));
  out->method.assign(json_string_value(method), json_string_length(method));
  if (out->method == "completion/complete") return read_completion_ref(element, out, detail);
  return read_target(element, out, detail);
}

}  // namespace

size_t json_nesting_depth(std::string_view text, size_t cap) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) deepest = depth;
        if (deepest > cap) return cap + 1;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

InspectResult inspect_jsonrpc(std::string_view body, const InspectLimits& limits) {
  if (body.size() > limits.max_bytes) {
    return failure(Status::kTooLarge,
                   "request body over " + std::to_string(limits.max_bytes) + " bytes");
  }
  // jansson recurses per nesting level; refuse deep documents before it sees them.
  if (json_nesting_depth(body, limits.max_depth) > limits.max_depth) {
    return failure(Status::kTooDeep,
                   "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  json_error_t error;
  JsonPtr doc(json_loadb(body.data(), body.size(), JSON_REJECT_DUPLICATES, &error));
  if (!doc) return failure(Status::kMalformed, "request body is not valid JSON");

  InspectResult result;
  result.status = Status::kOk;
  if (json_is_array(doc.get())) {
    result.batch = true;
    const size_t count = json_array_size(doc.get());
    if (count == 0) return failure(Status::kMalformed, "empty JSON-RPC batch");
    if (count > limits.max_batch) {
      return failure(Status::kInvalidRequest,
                     "JSON-RPC batch over " + std::to_string(limits.max_batch) + " messages");
    }
    for (size_t i = 0; i < count; ++i) {
      JsonRpcMessage message;
      std::string detail;
      if (!read_message(json_array_get(doc.get(), i), &message, &detail)) {
        return failure(Status::kInvalidRequest, "batch[" + std::to_string(i) + "]: " + detail);
      }
      result.messages.push_back(std::move(message));
    }
    return result;
  }
  JsonRpcMessage message;
  std::string detail;
  if (!read_message(doc.get(), &message, &detail)) {
    return failure(Status::kInvalidRequest, detail);
  }
  result.messages.push_back(std::move(message));
  return result;
}

}  // namespace mag::mcp
