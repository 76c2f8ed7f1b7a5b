#include "backend/add_tool.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace mag::backend {
namespace {

JsonPtr number_schema(const char* description) {
  JsonPtr schema = json_own(json_object());
  json_object_set_new(schema.get(), "type", json_string("number"));
  if (description) json_object_set_new(schema.get(), "description", json_string(description));
  return schema;
}

JsonPtr object_schema(std::initializer_list<std::pair<const char*, const char*>> properties) {
  JsonPtr props = json_own(json_object());
  JsonPtr required = json_own(json_array());
  for (const auto& [name, description] : properties) {
    json_object_set_new(props.get(), name, number_schema(description).release());
    json_array_append_new(required.get(), json_string(name));
  }
  JsonPtr schema = json_own(json_object());
  json_object_set_new(schema.get(), "type", json_string("object"));
  json_object_set_new(schema.get(), "properties", props.release());
  json_object_set_new(schema.get(), "required", required.release());
  return schema;
}

JsonPtr text_content(std::string_view text) {
  JsonPtr item = json_own(json_object());
  json_object_set_new(item.get(), "type", json_string("text"));
  json_object_set_new(item.get(), "text", json_stringn(text.data(), text.size()));
  JsonPtr content = json_own(json_array());
  json_array_append_new(content.get(), item.release());
  return content;
}

JsonPtr error_result(std::string_view text) {
  JsonPtr result = json_own(json_object());
  json_object_set_new(result.get(), "content", text_content(text).release());
  json_object_set_new(result.get(), "isError", json_true());
  return result;
}

// The sum of two arguments: an integer, or a jansson real (only a real sum
// costs a jansson value).
struct Sum {
  bool is_integer = false;
  json_int_t integer = 0;
  JsonPtr real;
};

bool sum(const json_t* a, const json_t* b, Sum* out) {
  if (json_is_integer(a) && json_is_integer(b) &&
      !__builtin_add_overflow(json_integer_value(a), json_integer_value(b), &out->integer)) {
    out->is_integer = true;
    return true;
  }
  const double total = json_number_value(a) + json_number_value(b);
  if (!std::isfinite(total)) return false;
  out->real = json_own(json_real(total));
  return out->real != nullptr;
}

// Which argument is wrong, or empty when both are usable.
std::string argument_problem(const json_t* arguments) {
  if (!arguments) return "missing arguments: expected an object with numbers a and b";
  if (!json_is_object(arguments)) return "arguments must be an object with numbers a and b";
  for (const char* name : {"a", "b"}) {
    const json_t* value = json_object_get(arguments, name);
    if (!value) return std::string("missing required argument '") + name + "' (a number)";
    if (!json_is_number(value)) return std::string("argument '") + name + "' must be a number";
  }
  return {};
}

}  // namespace

JsonPtr add_tool_definition() {
  JsonPtr annotations = json_own(json_object());
  json_object_set_new(annotations.get(), "readOnlyHint", json_true());
  json_object_set_new(annotations.get(), "destructiveHint", json_false());
  json_object_set_new(annotations.get(), "idempotentHint", json_true());
  json_object_set_new(annotations.get(), "openWorldHint", json_false());

  JsonPtr tool = json_own(json_object());
  json_object_set_new(tool.get(), "name", json_string(kAddToolName));
  json_object_set_new(tool.get(), "title", json_string("Add two numbers"));
  json_object_set_new(tool.get(), "description",
                      json_string("Adds two numbers a and b and returns their sum."));
  json_object_set_new(tool.get(), "inputSchema",
                      object_schema({{"a", "First addend"}, {"b", "Second addend"}}).release());
  json_object_set_new(
      tool.get(), "outputSchema",
      object_schema({{"a", "First addend"}, {"b", "Second addend"}, {"result", "The sum a + b"}})
          .release());
  json_object_set_new(tool.get(), "annotations", annotations.release());
  return tool;
}

std::string format_number(const json_t* number) {
  if (json_is_integer(number)) return std::to_string(json_integer_value(number));
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, json_number_value(number));
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

std::string call_add_tool(const json_t* arguments) {
  if (std::string problem = argument_problem(arguments); !problem.empty()) {
    return jsonrpc::dump(error_result("Invalid arguments for tool add: " + problem).get());
  }
  const json_t* a = json_object_get(arguments, "a");
  const json_t* b = json_object_get(arguments, "b");
  Sum total;
  if (!sum(a, b, &total)) {
    return jsonrpc::dump(
        error_result("The sum of a and b is not a finite number (overflow)").get());
  }
  // The text is digits, '-', '.', 'e' and '+' only (a finite number), so it
  // needs no escaping inside the JSON string.
  const std::string text =
      total.is_integer ? std::to_string(total.integer) : format_number(total.real.get());
  std::string out;
  out.reserve(160);
  // Key order as the tree this replaced: content, structuredContent, isError.
  out.append(R"({"content":[{"type":"text","text":")").append(text);
  out.append(R"("}],"structuredContent":{"a":)");
  jsonrpc::append_dump(&out, a);
  out.append(R"(,"b":)");
  jsonrpc::append_dump(&out, b);
  out.append(R"(,"result":)");
  if (total.is_integer) {
    out.append(text);  // an integer's text is its JSON
  } else {
    jsonrpc::append_dump(&out, total.real.get());
  }
  out.append(R"(},"isError":false})");
  return out;
}

}  // namespace mag::backend
