#include "backend/jsonrpc.h"
#include "common/json/json_text.h"

#include <charconv>
#include <cstdlib>
#include <memory>

namespace mag::backend::jsonrpc {
namespace {

constexpr size_t kDumpFlags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);

Message invalid(std::string reason, json_t* id = nullptr) {
  Message m;
  m.kind = Kind::kInvalid;
  m.invalid_reason = std::move(reason);
  m.id = id;
  return m;
}

bool valid_id(const json_t* id) {
  return json_is_string(id) || json_is_integer(id);
}

}  // namespace

Message classify(json_t* value) {
  if (!json_is_object(value)) return invalid("message is not a JSON object");
  json_t* id = json_object_get(value, "id");
  json_t* usable_id = valid_id(id) ? id : nullptr;  // echo only well-formed ids
  const json_t* version = json_object_get(value, "jsonrpc");
  if (!json_is_string(version) || std::string_view(json_string_value(version)) != "2.0") {
    return invalid("jsonrpc must be \"2.0\"", usable_id);
  }
  json_t* method = json_object_get(value, "method");
  if (method) {
    if (!json_is_string(method)) return invalid("method must be a string", usable_id);
    json_t* params = json_object_get(value, "params");
    if (params && !json_is_object(params)) {
      return invalid("params must be an object", usable_id);
    }
    Message m;
    m.method.assign(json_string_value(method), json_string_length(method));
    m.params = params;
    if (!id) {
      m.kind = Kind::kNotification;
      return m;
    }
    if (!usable_id) return invalid("id must be a string or an integer");
    m.kind = Kind::kRequest;
    m.id = id;
    return m;
  }
  const bool has_result = json_object_get(value, "result") != nullptr;
  const bool has_error = json_object_get(value, "error") != nullptr;
  if (has_result != has_error && id) {
    Message m;
    m.kind = Kind::kResponse;
    m.id = id;
    return m;
  }
  return invalid("neither a request, a notification nor a response", usable_id);
}

std::string render_result(const json_t* id, std::string_view result_json) {
  constexpr std::string_view kHead = R"({"jsonrpc":"2.0","id":)";
  constexpr std::string_view kResult = R"(,"result":)";
  std::string out;
  out.reserve(kHead.size() + kResult.size() + result_json.size() + 32);
  out.append(kHead);
  if (id) {
    append_dump(&out, id);
  } else {
    out.append("null");
  }
  out.append(kResult).append(result_json).append("}");
  return out;
}

JsonPtr make_error(json_t* id, int code, std::string_view message) {
  JsonPtr error = json_own(json_object());
  json_object_set_new(error.get(), "code", json_integer(code));
  // json_stringn refuses invalid UTF-8; never lose the member over that.
  json_t* text = json_stringn(message.data(), message.size());
  json_object_set_new(error.get(), "message", text ? text : json_string("error"));
  JsonPtr out = json_own(json_object());
  json_object_set_new(out.get(), "jsonrpc", json_string("2.0"));
  json_object_set(out.get(), "id", id ? id : json_null());
  json_object_set_new(out.get(), "error", error.release());
  return out;
}

std::string dump(const json_t* value) {
  return json::to_json_string(value, kDumpFlags).value_or("null");
}

void append_dump(std::string* out, const json_t* value) {
  if (json_is_integer(value)) {
    // What jansson prints ("%" JSON_INTEGER_FORMAT), without the snprintf.
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, json_integer_value(value));
    out->append(digits, end);
    return;
  }
  char buffer[256];
  const size_t size = json_dumpb(value, buffer, sizeof buffer, kDumpFlags);
  if (size == 0) {
    out->append("null");  // what dump() yields when jansson refuses
  } else if (size <= sizeof buffer) {
    out->append(buffer, size);
  } else {
    out->append(dump(value));
  }
}

}  // namespace mag::backend::jsonrpc
