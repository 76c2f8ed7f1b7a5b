#include "common/http/direct_write.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>

namespace mag::http {

bool write_queued_or_arm(bufferevent* bev) {
  evbuffer* out = bufferevent_get_output(bev);
  // bufferevents keep the front of their output frozen (only libevent
  // drains it); thawed for this one write, as libevent's own write does.
  evbuffer_unfreeze(out, 1);
  const int n = evbuffer_write(out, bufferevent_getfd(bev));
  const int err = errno;
  evbuffer_freeze(out, 1);
  const bool error = n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR;
  if (error || evbuffer_get_length(out) > 0) {
    bufferevent_enable(bev, EV_WRITE);
    return false;
  }
  return true;
}

void ssl_write_or_queue(bufferevent* bev, std::string_view bytes) {
  if (bytes.empty()) return;
  evbuffer* out = bufferevent_get_output(bev);
  SSL* ssl = bufferevent_openssl_get_ssl(bev);
  size_t written = 0;
  // Bytes already queued go first, and libevent then owns the order. An
  // SSL_read that wanted to write (SSL_WRITING) left a handshake record
  // pending that libevent's write event finishes: an SSL_write now would be
  // an invalid retry.
  if (ssl && evbuffer_get_length(out) == 0 && (SSL_want_nothing(ssl) || SSL_want_read(ssl))) {
    ERR_clear_error();
    if (SSL_write_ex(ssl, bytes.data(), bytes.size(), &written) != 1) written = 0;
    // libevent clears the queue before its own SSL_write and keeps what its
    // failure leaves: nothing from this attempt may be read as its error.
    ERR_clear_error();
  }
  if (written >= bytes.size()) return;
  const size_t rest = bytes.size() - written;
  bufferevent_write(bev, bytes.data() + written, rest);
  // libevent's SSL_write takes the first chunk of its output: after a failed
  // attempt it must cover at least the bytes OpenSSL saw (it always does when
  // the buffer was empty; the pullup guards a leftover empty chunk).
  evbuffer_iovec first{};
  if (evbuffer_peek(out, -1, nullptr, &first, 1) > 0 && first.iov_len < rest)
    evbuffer_pullup(out, -1);
}

}  // namespace mag::http
