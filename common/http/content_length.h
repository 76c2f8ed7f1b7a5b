// The value of a Content-Length field (RFC 9110 §8.6): digits only.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mag::http {

// Nullopt for an empty value, anything but decimal digits, or a number that
// does not fit in 64 bits.
std::optional<uint64_t> parse_content_length(std::string_view value);

}  // namespace mag::http
