#include "common/http/lingering_close.h"

#include <event2/buffer.h>
#include <sys/socket.h>

#include <algorithm>

namespace mag::http {

std::chrono::milliseconds LingeringClose::start(evutil_socket_t fd, evbuffer* in) {
  active_ = true;
  if (fd >= 0) ::shutdown(fd, SHUT_WR);
  discard_early(in);
  until_ = std::chrono::steady_clock::now() + kTotalTime;
  return kQuietTime;
}

bool LingeringClose::discard_early(evbuffer* in) {
  const size_t n = evbuffer_get_length(in);
  evbuffer_drain(in, n);
  discarded_ += n;
  return discarded_ <= kMaxBytes;
}

std::optional<std::chrono::milliseconds> LingeringClose::discard(evbuffer* in) {
  if (!discard_early(in)) return std::nullopt;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until_ - std::chrono::steady_clock::now());
  if (left.count() <= 0) return std::nullopt;
  return std::min(kQuietTime, left);
}

}  // namespace mag::http
