#include "proxy/server/snapshot.h"

#include "proxy/router/route_table.h"

namespace mag::proxy {

const CompiledRoute* WorkerSnapshot::find_route(std::string_view path) const {
  return proxy::find_route(routes, path, [](const CompiledRoute& route) -> const std::string& {
    return route.config->path_prefix;
  });
}

}  // namespace mag::proxy
