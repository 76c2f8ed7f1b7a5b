// Whether a socket's TCP connection was established: it has a peer address.
// Tells a failed connect from a failure after it (a TLS handshake, a read).
#pragma once

#include <event2/util.h>

namespace mag {

// False for -1 or a socket that never connected.
bool socket_has_peer(evutil_socket_t fd);

}  // namespace mag
