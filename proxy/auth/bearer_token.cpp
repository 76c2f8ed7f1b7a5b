#include "proxy/auth/bearer_token.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace mag::auth {
namespace {
constexpr std::string_view kSeparators = " \t,";
}  // namespace

ExtractedToken extract_bearer_token(const http::HeaderMap& headers) {
  const size_t fields = headers.count("authorization");
  if (fields == 0) return {};
  if (fields > 1) return {TokenPresence::kMultiple, {}};
  std::string_view value = *headers.get("authorization");
  // The scheme is case-insensitive (RFC 9110 §11.1) and separated by one SP.
  // Trailing whitespace was already trimmed by the codec.
  constexpr std::string_view kScheme = "bearer";
  if (value.size() < kScheme.size() || !http::iequals(value.substr(0, kScheme.size()), kScheme)) {
    return {};  // another scheme: no bearer credentials at all
  }
  std::string_view rest = value.substr(kScheme.size());
  if (rest.empty()) return {TokenPresence::kMalformed, {}};
  if (rest.front() != ' ') return {};  // "Bearer-x" is another scheme name
  rest.remove_prefix(1);
  // Three memchr scans, not find_first_of: libstdc++ runs one memchr per
  // token byte for a needle set.
  const bool has_separator = std::any_of(kSeparators.begin(), kSeparators.end(), [rest](char sep) {
    return std::memchr(rest.data(), sep, rest.size()) != nullptr;
  });
  if (rest.empty() || has_separator) {
    // "Bearer a, Bearer b" and "Bearer  x" are never guessed at.
    return {rest.find(',') != std::string_view::npos ? TokenPresence::kMultiple
                                                     : TokenPresence::kMalformed,
            {}};
  }
  return {TokenPresence::kPresent, rest};
}

}  // namespace mag::auth
