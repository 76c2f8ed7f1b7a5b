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

// `{"jsonrpc":"2.0","error":{"code":code,"message":message}}`: the JSON-RPC
// error body without id that the 2025-11-25 transport asks for.
std::string jsonrpc_error_without_id(int code, const std::string& message);

}  // namespace mag::proxy
