// Write-first for cleartext bufferevents: what a bufferevent has
// queued is written straight to its socket in one writev, and EV_WRITE is
// armed only when the socket could not take it all. libevent's own scheme
// (enable EV_WRITE on every write, disable it when drained) costs two
// epoll_ctl per response on each side. Shared by the server connections
// (http_server.cpp) and the upstream connections (upstream_pool.cpp).
#pragma once

#include <event2/bufferevent.h>

namespace mag::http {

// Writes what `bev` has queued (the caller checked it is not empty). True
// when all of it left. False when the socket is full or failed: EV_WRITE is
// then enabled, so libevent writes the rest once the socket is writable (and,
// on an error, fails again and reports it to the event callback).
bool write_queued_or_arm(bufferevent* bev);

}  // namespace mag::http
