#pragma once

// Lingering close (like nginx's lingering_close). When the gateway ends a
// connection after an answer (an HTTP/1.1 413 while the client still uploads,
// an HTTP/2 GOAWAY after a protocol error), the client may still be sending.
// Closing a socket with unread input makes the kernel send an RST, and an RST
// can destroy the answer before the client has read it. So once everything is
// written the write side is shut (FIN), and the client's bytes are read and
// discarded until it closes, it is quiet for kQuietTime, kTotalTime has passed
// or kMaxBytes were discarded.

#include <event2/util.h>

#include <chrono>
#include <cstddef>
#include <optional>

struct evbuffer;

namespace mag::http {

class LingeringClose {
 public:
  static constexpr size_t kMaxBytes = 64 << 20;
  static constexpr std::chrono::milliseconds kQuietTime{2000};
  static constexpr std::chrono::milliseconds kTotalTime{5000};

  // Shuts the write side of `fd` and discards what `in` holds. Returns how
  // long to wait for the client before closing.
  std::chrono::milliseconds start(evutil_socket_t fd, evbuffer* in);

  // Discards what `in` holds. Returns how long to wait for more, or nothing
  // when the connection should close now (too many bytes, or out of time).
  std::optional<std::chrono::milliseconds> discard(evbuffer* in);

  // Counts bytes discarded before the lingering starts (input that arrives
  // while the last answer is still being written) against the same bound.
  // Returns false once the bound is exceeded.
  bool discard_early(evbuffer* in);

  bool active() const { return active_; }

 private:
  bool active_ = false;
  size_t discarded_ = 0;
  std::chrono::steady_clock::time_point until_;
};

}  // namespace mag::http
