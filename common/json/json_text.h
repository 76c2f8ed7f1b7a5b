// A jansson value serialised to a std::string: the one place where
// json_dumps' malloc'ed buffer is copied and freed.
#pragma once

#include <jansson.h>

#include <cstddef>
#include <optional>
#include <string>

namespace mag::json {

// `flags` as for json_dumps (JSON_COMPACT, JSON_ENCODE_ANY, ...). Nullopt
// when jansson cannot serialise the value (out of memory, or a scalar
// without JSON_ENCODE_ANY); each caller decides what to send instead.
std::optional<std::string> to_json_string(const json_t* value, size_t flags);

}  // namespace mag::json
