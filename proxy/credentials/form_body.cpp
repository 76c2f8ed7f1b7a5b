#include "proxy/credentials/form_body.h"

#include <event2/http.h>

#include <cstdlib>
#include <memory>
#include <new>

#include "common/core/c_handles.h"

namespace mag::credentials {

std::string form_encode(std::string_view value) {
  const std::unique_ptr<char, CDeleter<std::free>> encoded(
      evhttp_uriencode(value.data(), static_cast<ev_ssize_t>(value.size()), 1));
  // evhttp_uriencode returns null only when out of memory.
  if (!encoded) throw std::bad_alloc();
  return encoded.get();
}

void FormBody::add(std::string_view name, std::string_view value) {
  if (!text_.empty()) text_ += '&';
  text_ += form_encode(name);
  text_ += '=';
  text_ += form_encode(value);
}

}  // namespace mag::credentials
