#include "proxy/bearer_token.h"

namespace mag::auth {

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
  if (rest.empty() || rest.find_first_of(" \t,") != std::string_view::npos) {
    // "Bearer a, Bearer b" and "Bearer  x" are never guessed at.
    return {rest.find(',') != std::string_view::npos ? TokenPresence::kMultiple
                                                      : TokenPresence::kMalformed,
            {}};
  }
  return {TokenPresence::kPresent, rest};
}

}  // namespace mag::auth
