// The one-shot end shared by the two GET transports (http_fetch.cpp over
// UpstreamPool, tls_client.cpp over an OpenSSL bufferevent): the total
// deadline, the size-capped result being built, and the callback that runs
// exactly once. Keeping it in one place keeps the two transports' promises
// identical: same cap, same "never call back from inside start()".
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/c_handles.h"
#include "common/fetch/http_fetch.h"
#include "common/http/http_message.h"

namespace mag::http {

// A non-empty run of decimal digits that fits in 64 bits (Content-Length, ports).
std::optional<uint64_t> parse_decimal(std::string_view s);

// The head both transports send: method, target, the caller's headers, an
// Accept unless the caller set one, User-Agent and Connection: close.
RequestHead request_head(const FetchRequest& request, const std::string& target);

class FetchCompletion {
 public:
  // `release` drops the transport (stream, connection) before `done` runs,
  // so a response that did not complete never leaves a connection behind.
  FetchCompletion(event_base* base, size_t max_body_bytes, std::function<void(FetchResult)> done,
                  std::function<void()> release);
  FetchCompletion(const FetchCompletion&) = delete;
  FetchCompletion& operator=(const FetchCompletion&) = delete;

  // False when the timer could not be created: nothing can be reported then.
  bool usable() const { return timer_ != nullptr; }
  // The whole exchange has one deadline, not only its parts.
  void arm_deadline(std::chrono::milliseconds timeout);

  // Status, header fields; false when a Content-Length already exceeds the cap.
  bool take_head(const ResponseHead& head);
  // False when the body would exceed the cap.
  bool take_body(std::string_view data);

  // Ends the fetch from the event loop, never from inside the caller (used
  // by start(), whose caller has not received the Fetch yet).
  void fail_later(FetchError kind, std::string error);
  // These run `done` last: the caller may destroy the owner from inside it,
  // so the caller must touch nothing after them.
  void fail(FetchError kind, std::string error);
  void succeed();

 private:
  static void on_timer(evutil_socket_t, short, void* arg) noexcept;
  void complete();

  size_t max_body_bytes_;
  std::function<void(FetchResult)> done_;
  std::function<void()> release_;
  EventPtr timer_;
  std::optional<std::pair<FetchError, std::string>> deferred_error_;
  FetchResult result_;
};

}  // namespace mag::http
