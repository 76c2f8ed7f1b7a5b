// HTTP/1.1 message codec: framing by libhttp-parser (strict build), plus the
// checks it does not make itself (bare LF, obs-fold, whitespace before the
// colon, NUL/CTL bytes, duplicate or conflicting framing headers, Host rules),
// and serialisation of heads. No socket code here: bytes in, callbacks out.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/http_message.h"

namespace mag::http {

struct CodecLimits {
  size_t max_request_line = 8 * 1024;  // 414 beyond (response: 502)
  size_t max_head_bytes = 32 * 1024;   // request line + headers: 431 beyond
  size_t max_header_count = 100;       // 431 beyond
  size_t max_body_bytes = 4 << 20;     // 413 beyond; 0 = unlimited (streamed)
};

class Http1Parser {
 public:
  enum class Mode { kRequest, kResponse };

  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // kRequest mode. `head.path`/`query` are split from the target.
    virtual void on_request_head(RequestHead&& /*head*/) {}
    // kResponse mode. 1xx heads are consumed silently (except 101, an error).
    virtual void on_response_head(ResponseHead&& /*head*/) {}
    virtual void on_body(std::string_view data) = 0;
    virtual void on_message_complete() = 0;
  };

  Http1Parser(Mode mode, Callbacks& callbacks, CodecLimits limits = {});
  ~Http1Parser();
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses at most one message. Returns the number of bytes consumed; after
  // on_message_complete() it returns early and the caller keeps the rest
  // (pipelining) until it calls next_message(). On a protocol error it
  // returns and failed() is true; the connection must then be closed.
  size_t feed(const char* data, size_t len);
  // Signals EOF from the peer: completes a read-until-close response body,
  // otherwise an incomplete message is an error.
  void feed_eof();
  // Prepares for the next message on the same connection (also clears the
  // request method given by set_request_method()).
  void next_message();
  // When set, feed() also returns right after a head has been delivered (body
  // bytes stay with the caller), so a consumer can apply flow control from
  // its head callback before any body arrives. Off by default.
  void set_stop_after_head(bool stop) { stop_after_head_ = stop; }
  // kResponse mode: the method of the request this response answers (HEAD
  // responses have no body).
  void set_request_method(std::string_view method);
  // Once the head has been parsed, returns its raw bytes to the allocator
  // (before that, and for a head still being parsed, a no-op; called from a
  // callback inside feed(), it happens when feed() returns). For exchanges
  // that stay open (a streamed response): the buffer would otherwise sit
  // unused for hours; the next head on the connection grows it again.
  void release_head_buffer();
  // Bytes reserved for message heads (tests, memory accounting).
  size_t head_buffer_capacity() const;

  bool failed() const { return error_status_ != 0; }
  // Status to answer with when failed(): 400, 413, 414, 431, 501, 505 (for
  // kResponse mode the caller maps any failure to 502).
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }
  // Valid after the head: whether the connection may carry another message.
  bool keep_alive() const;
  bool message_complete() const { return complete_; }
  bool head_complete() const { return head_complete_; }
  // Valid after the head: whether a body follows (chunked, Content-Length > 0,
  // or a response delimited by close). False for HEAD/1xx/204/304 responses.
  bool expects_body() const;

 private:
  struct Impl;
  friend struct Impl;
  std::unique_ptr<Impl> impl_;  // pimpl keeps http_parser.h out of this header
  int error_status_ = 0;
  std::string error_message_;
  bool complete_ = false;
  bool head_complete_ = false;
  bool stop_after_head_ = false;
  bool feeding_ = false;             // inside feed(): http_parser may be reading the head
  bool release_after_feed_ = false;  // release_head_buffer() was called from a callback
};

// "HTTP/1.1 200 OK\r\n" + headers + "\r\n". Fields are written as given;
// callers decide framing headers (Content-Length / Transfer-Encoding).
std::string serialize_response_head(const ResponseHead& head, int version_minor = 1);
// "METHOD target HTTP/1.1\r\n" + headers + "\r\n".
std::string serialize_request_head(const RequestHead& head);
// One chunk of chunked transfer-coding ("<hex>\r\n<data>\r\n"); an empty
// `data` is NOT allowed here (use kLastChunk).
std::string chunk_prefix(size_t size);
inline constexpr std::string_view kChunkSuffix = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace mag::http
