#include "proxy/local_reply.h"

#include <jansson.h>

#include "common/core/c_handles.h"

namespace mag::proxy {

LocalReply json_error(int status, std::string_view error, std::string_view description) {
  JsonPtr doc(json_object());
  json_object_set_new(doc.get(), "error", json_stringn(error.data(), error.size()));
  json_object_set_new(doc.get(), "error_description",
                      json_stringn(description.data(), description.size()));
  char* text = json_dumps(doc.get(), JSON_COMPACT);
  std::string body = text ? text : "{}";
  free(text);
  LocalReply reply = json_document(status, std::move(body));
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
