#include "proxy/router/local_reply.h"

#include <jansson.h>

#include "common/core/c_handles.h"
#include "common/json/json_error_body.h"
#include "common/json/json_text.h"

namespace mag::proxy {

LocalReply json_error(int status, std::string_view error, std::string_view description) {
  LocalReply reply = json_document(status, json::json_error_body(error, description));
  reply.head.headers.add("Cache-Control", "no-store");
  return reply;
}

LocalReply json_document(int status, std::string body) {
  LocalReply reply;
  reply.head.status = status;
  reply.head.headers.add("Content-Type", "application/json");
  reply.head.headers.add("Content-Length", std::to_string(body.size()));
  reply.body = std::move(body);
  return reply;
}

std::string jsonrpc_error_without_id(int code, const std::string& message) {
  JsonPtr error(json_pack("{s:i,s:s%}", "code", code, "message", message.data(), message.size()));
  JsonPtr doc(json_pack("{s:s,s:O}", "jsonrpc", "2.0", "error", error.get()));
  if (!doc) return "{}";
  return json::to_json_string(doc.get(), JSON_COMPACT).value_or("{}");
}

}  // namespace mag::proxy
