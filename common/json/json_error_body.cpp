#include "common/json/json_error_body.h"

#include <jansson.h>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"

namespace mag::json {

std::string json_error_body(std::string_view error, std::string_view description) {
  JsonPtr doc = json_own(json_object());
  json_object_set_new(doc.get(), "error", json_stringn(error.data(), error.size()));
  json_object_set_new(doc.get(), "error_description",
                      json_stringn(description.data(), description.size()));
  return to_json_string(doc.get(), JSON_COMPACT).value_or("{}");
}

}  // namespace mag::json
