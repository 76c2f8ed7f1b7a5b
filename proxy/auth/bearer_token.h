// Extracts the bearer token from a request (RFC 6750 §2.1, header only: MCP
// forbids tokens in the query). Distinguishes "no credentials" (no header or
// another scheme: a challenge without error) from a malformed request.
#pragma once

#include <string_view>

#include "common/http/http_message.h"

namespace mag::auth {

enum class TokenPresence {
  kAbsent,     // no Authorization header, or a non-Bearer scheme (e.g. Basic)
  kPresent,    // exactly one "Bearer <token>"
  kMalformed,  // "Bearer" with an empty or space-containing token
  kMultiple,   // several Authorization fields or several credentials: 400
};

struct ExtractedToken {
  TokenPresence presence = TokenPresence::kAbsent;
  std::string_view token;  // points into the request headers
};

ExtractedToken extract_bearer_token(const http::HeaderMap& headers);

}  // namespace mag::auth
