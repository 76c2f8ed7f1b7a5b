// The JSON body of an error the gateway answers itself, in the OAuth 2.0
// error response shape (RFC 6749 §5.2) used by every listener and codec:
// {"error":"<code>","error_description":"<text>"}.
#pragma once

#include <string>
#include <string_view>

namespace mag::json {

// Compact JSON; "{}" if jansson cannot build it.
std::string json_error_body(std::string_view error, std::string_view description);

}  // namespace mag::json
