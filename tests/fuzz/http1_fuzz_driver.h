// Shared driver of the two HTTP/1.1 codec targets: feeds the input in slices
// whose size comes from the first byte (so incremental parsing across every
// split point is exercised), follows pipelined messages with next_message()
// the way http_server.cpp and upstream_pool.cpp do, and checks the codec's
// promises about what it hands to the proxy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/http/http1_codec.h"

namespace mag::fuzz {

// No CR, LF or NUL may survive into a parsed header name or value: those are
// the bytes that would let a request split into two on the upstream side.
inline void check_field_bytes(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') std::abort();
  }
}

inline void check_headers(const http::HeaderMap& headers) {
  for (const auto& h : headers) {
    if (h.name.empty()) std::abort();
    check_field_bytes(h.name);
    check_field_bytes(h.value);
  }
}

class CountingCallbacks : public http::Http1Parser::Callbacks {
 public:
  void on_request_head(http::RequestHead&& head) override {
    check_headers(head.headers);
    check_field_bytes(head.target);
    // At most one Content-Length and never CL together with TE.
    if (head.headers.count("content-length") > 1) std::abort();
    if (head.headers.has("content-length") && head.headers.has("transfer-encoding")) std::abort();
    ++heads;
  }
  void on_response_head(http::ResponseHead&& head) override {
    check_headers(head.headers);
    if (head.status < 100 || head.status > 999) std::abort();
    ++heads;
  }
  void on_body(std::string_view data) override { body_bytes += data.size(); }
  void on_message_complete() override { ++messages; }

  size_t heads = 0;
  size_t messages = 0;
  size_t body_bytes = 0;
};

inline void drive_http1(http::Http1Parser::Mode mode, const uint8_t* data, size_t size) {
  if (size < 2) return;
  const size_t slice = 1 + data[0] % 64;
  const bool stop_after_head = (data[1] & 1) != 0;
  const bool head_request = (data[1] & 2) != 0;
  data += 2;
  size -= 2;

  http::CodecLimits limits;
  limits.max_request_line = 1024;
  limits.max_head_bytes = 4096;
  limits.max_header_count = 32;
  limits.max_body_bytes = 64 * 1024;
  CountingCallbacks callbacks;
  http::Http1Parser parser(mode, callbacks, limits);
  parser.set_stop_after_head(stop_after_head);
  if (mode == http::Http1Parser::Mode::kResponse && head_request) parser.set_request_method("HEAD");

  const char* p = reinterpret_cast<const char*>(data);
  size_t left = size;
  // Every feed either consumes bytes or completes/fails something; the cap
  // turns a codec that stops making progress into a finding (abort) instead
  // of a hang.
  for (size_t rounds = 0; left > 0 && !parser.failed(); ++rounds) {
    if (rounds > size * 4 + 64) std::abort();
    const size_t n = std::min(slice, left);
    const size_t used = parser.feed(p, n);
    if (used > n) std::abort();
    p += used;
    left -= used;
    if (parser.failed()) break;
    if (parser.message_complete()) {
      if (!parser.keep_alive()) break;
      parser.next_message();
      if (mode == http::Http1Parser::Mode::kResponse && head_request)
        parser.set_request_method("HEAD");
    }
  }
  if (!parser.failed() && left == 0) parser.feed_eof();
  if (parser.failed()) {
    const int status = parser.error_status();
    if (status < 400 || status > 599) std::abort();
  }
  if (callbacks.body_bytes > limits.max_body_bytes * (callbacks.messages + 1)) std::abort();
}

}  // namespace mag::fuzz
