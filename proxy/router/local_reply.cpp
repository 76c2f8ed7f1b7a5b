#include "proxy/router/local_reply.h"

#include "common/json/json_error_body.h"

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

}  // namespace mag::proxy
