#include "common/core/socket_peer.h"

#include <sys/socket.h>

namespace mag {

bool socket_has_peer(evutil_socket_t fd) {
  if (fd < 0) return false;
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  return getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0;
}

}  // namespace mag
