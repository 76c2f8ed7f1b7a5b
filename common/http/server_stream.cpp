#include "common/http/server_stream.h"

#include "common/core/log.h"

namespace mag::http {

void notify_exchange_ended(ServerStreamHandler& handler, int refused_status,
                           std::string_view log_tag) {
  try {
    if (refused_status != 0) {
      handler.on_refused(refused_status);
    } else {
      handler.on_reset();
    }
  } catch (...) {
    log::error(log_tag, "handler threw from on_reset");
  }
}

}  // namespace mag::http
