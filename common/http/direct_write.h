// Write-first for bufferevents: what a bufferevent has queued is written
// straight to its socket, and EV_WRITE is armed only when the socket could
// not take it all. libevent's own scheme (enable EV_WRITE on every write,
// disable it when drained) costs two epoll_ctl per response on each side
// and, for TLS, a loop turn. Shared by the server connections
// (http_server.cpp) and the upstream connections (upstream_connection.cpp).
#pragma once

#include <event2/bufferevent.h>

#include <string_view>

namespace mag::http {

// Cleartext: writes what `bev` has queued (the caller checked it is not
// empty). True when all of it left. False when the socket is full or failed:
// EV_WRITE is then enabled, so libevent writes the rest once the socket is
// writable (and, on an error, fails again and reports it to the event
// callback).
bool write_queued_or_arm(bufferevent* bev);

// TLS (a bufferevent_openssl in socket mode, handshake done): encrypts and
// writes `bytes` with one SSL_write when libevent has nothing queued and
// OpenSSL is not waiting to write, so neither EV_WRITE nor a loop turn is
// needed. Whatever does not leave that way (socket full, a handshake message
// in the way, an error) is queued on the bufferevent, which arms EV_WRITE,
// repeats the SSL_write of the same bytes (as OpenSSL requires after
// SSL_ERROR_WANT_WRITE or _WANT_READ) and reports an error to the event
// callback.
void ssl_write_or_queue(bufferevent* bev, std::string_view bytes);

}  // namespace mag::http
