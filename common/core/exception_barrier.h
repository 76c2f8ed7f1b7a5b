// The edge between C callbacks (libevent, http-parser, nghttp2) and C++ code:
// an exception must never unwind through a C frame, so every callback entry
// runs its C++ body through exception_barrier, which turns any exception into
// a call of `on_failure` with its message.
#pragma once

#include <exception>
#include <string_view>
#include <utility>

namespace mag {

// Runs `body()`; when it throws, runs `on_failure(message)` instead of
// propagating. Returns whether `body` completed. `on_failure` must not throw.
template <typename Body, typename OnFailure>
bool exception_barrier(Body&& body, OnFailure&& on_failure) noexcept {
  try {
    std::forward<Body>(body)();
    return true;
  } catch (const std::exception& e) {
    on_failure(std::string_view(e.what()));
  } catch (...) {
    on_failure(std::string_view("unknown exception"));
  }
  return false;
}

}  // namespace mag
