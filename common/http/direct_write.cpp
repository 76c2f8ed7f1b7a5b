#include "common/http/direct_write.h"

#include <event2/buffer.h>
#include <event2/event.h>

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

}  // namespace mag::http
