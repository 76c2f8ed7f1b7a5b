#include "common/fetch/fetch_completion.h"

#include <charconv>

#include "common/core/event_loop.h"
#include "common/core/log.h"

namespace mag::http {

std::optional<uint64_t> parse_decimal(std::string_view s) {
  uint64_t n = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

RequestHead request_head(const FetchRequest& request, const std::string& target) {
  RequestHead head;
  head.method = request.method;
  head.target = target;
  bool has_accept = false;
  for (const auto& [name, value] : request.headers) {
    has_accept = has_accept || iequals(name, "Accept");
    head.headers.add(name, value);
  }
  if (!has_accept) head.headers.add("Accept", "application/json, */*;q=0.5");
  head.headers.add("User-Agent", "mcp-auth-gateway");
  head.headers.add("Connection", "close");
  return head;
}

FetchCompletion::FetchCompletion(event_base* base, size_t max_body_bytes,
                                 std::function<void(FetchResult)> done,
                                 std::function<void()> release)
    : max_body_bytes_(max_body_bytes),
      done_(std::move(done)),
      release_(std::move(release)),
      timer_(event_new(base, -1, 0, &FetchCompletion::on_timer, this)) {}

void FetchCompletion::arm_deadline(std::chrono::milliseconds timeout) {
  const timeval tv = to_timeval(timeout);
  event_add(timer_.get(), &tv);
}

bool FetchCompletion::take_head(const ResponseHead& head) {
  result_.status = head.status;
  result_.headers = head.headers;
  if (const std::string_view* cc = head.headers.get("Cache-Control")) result_.cache_control = *cc;
  if (const std::string_view* cl = head.headers.get("Content-Length")) {
    auto length = parse_decimal(*cl);
    if (length && *length > max_body_bytes_) return false;
  }
  return true;
}

bool FetchCompletion::take_body(std::string_view data) {
  if (data.size() > max_body_bytes_ - result_.body.size()) return false;
  result_.body.append(data);
  return true;
}

void FetchCompletion::fail_later(FetchError kind, std::string error) {
  deferred_error_.emplace(kind, std::move(error));
  if (timer_) event_active(timer_.get(), 0, 0);
}

void FetchCompletion::on_timer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<FetchCompletion*>(arg);
  try {
    if (self->deferred_error_) {
      auto [kind, error] = std::move(*self->deferred_error_);
      self->fail(kind, std::move(error));
    } else {
      self->fail(FetchError::kTimeout, "timeout");
    }
  } catch (...) {
    log::error("fetch", "exception in fetch deadline callback");
  }
}

void FetchCompletion::fail(FetchError kind, std::string error) {
  result_.ok = false;
  result_.kind = kind;
  result_.body.clear();
  result_.error = std::move(error);
  complete();
}

void FetchCompletion::succeed() {
  result_.ok = true;
  complete();
}

void FetchCompletion::complete() {
  if (!done_) return;
  if (timer_) event_del(timer_.get());
  release_();
  auto done = std::move(done_);
  done_ = nullptr;
  done(std::move(result_));
}

}  // namespace mag::http
