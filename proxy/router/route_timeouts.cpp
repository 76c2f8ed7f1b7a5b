#include "proxy/router/route_timeouts.h"

namespace mag::proxy {

http::StartOptions start_options(const config::Route& route) {
  http::StartOptions options;
  options.connect_timeout = route.timeouts.connect_timeout;
  options.response_header_timeout = route.timeouts.response_header_timeout;
  options.idle_timeout = route.timeouts.idle_timeout;
  return options;
}

}  // namespace mag::proxy
