#include "common/http/content_length.h"

#include <charconv>

namespace mag::http {

std::optional<uint64_t> parse_content_length(std::string_view value) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    return std::nullopt;
  }
  return n;
}

}  // namespace mag::http
