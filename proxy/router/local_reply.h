// Responses the gateway writes itself (errors, metadata): JSON bodies built
// with jansson, Content-Length set, never cached.
#pragma once

#include <string>
#include <string_view>

#include "common/http/http_message.h"

namespace mag::proxy {

struct LocalReply {
  http::ResponseHead head;
  std::string body;
};

// {"error": error, "error_description": description} with `status`.
LocalReply json_error(int status, std::string_view error, std::string_view description);
// A JSON document reply (body already serialised).
LocalReply json_document(int status, std::string body);

}  // namespace mag::proxy
