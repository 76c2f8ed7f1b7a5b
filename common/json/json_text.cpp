#include "common/json/json_text.h"

#include <cstdlib>
#include <memory>

#include "common/core/c_handles.h"

namespace mag::json {

std::optional<std::string> to_json_string(const json_t* value, size_t flags) {
  std::unique_ptr<char, CDeleter<std::free>> text(json_dumps(value, flags));
  if (!text) return std::nullopt;
  return std::string(text.get());
}

}  // namespace mag::json
