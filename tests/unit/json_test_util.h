// Test-only helpers for reading the JSON the gateway writes (admin
// endpoints, access-log lines) with jansson.
#pragma once

#include <jansson.h>

#include <string>

#include "common/core/c_handles.h"

namespace mag::test {

// The parsed document, or null when `text` is not JSON.
inline JsonPtr parse_json(const std::string& text) {
  json_error_t error;
  return json_own(json_loads(text.c_str(), 0, &error));
}

// `object[key]` when it is a string, "" otherwise.
inline std::string get_string(json_t* object, const char* key) {
  json_t* v = json_object_get(object, key);
  return json_is_string(v) ? json_string_value(v) : "";
}

}  // namespace mag::test
