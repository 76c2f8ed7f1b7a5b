#include "common/http/http1_codec.h"
#include "common/core/exception_barrier.h"

#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <vector>

namespace mag::http {

namespace {

constexpr size_t kMaxLeadingEmptyLines = 8;  // RFC 9112 §2.2 tolerance, bounded
constexpr int kMaxInterimResponses = 32;     // 1xx storm guard
// Room in a response head's HeaderMap for the fields a proxy adds (CORS);
// a request head is kept as received (and held by long streams).
constexpr size_t kResponseStorageSlack = 256;

bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// field-value / reason-phrase bytes: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5).
bool is_field_char(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

bool all_field_chars(std::string_view s) {
  // Eight bytes at a time first (bearer tokens are ~800 bytes): an exact
  // test for "some byte is < 0x20 or is 0x7f" (the classic haszero/hasless
  // bit tricks: no false positives, no misses). On a hit the byte loop below
  // decides from that word on, since HTAB is allowed.
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t x;
    std::memcpy(&x, p, sizeof x);
    const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;
    const uint64_t y = x ^ (kOnes * 0x7f);
    const uint64_t del = (y - kOnes) & ~y & kHigh;
    if ((below_space | del) != 0) break;
    p += 8;
    n -= 8;
  }
  for (; n > 0; ++p, --n) {
    if (!is_field_char(static_cast<unsigned char>(*p))) return false;
  }
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Host = uri-host [ ":" port ]; only the characters those can contain.
bool is_valid_host(std::string_view s) {
  for (unsigned char c : s) {
    if (std::isalnum(c)) continue;
    switch (c) {
      case '-':
      case '.':
      case '_':
      case '~':
      case '!':
      case '$':
      case '&':
      case '\'':
      case '(':
      case ')':
      case '*':
      case '+':
      case ',':
      case ';':
      case '=':
      case ':':
      case '[':
      case ']':
      case '%':
        continue;
      default:
        return false;
    }
  }
  return true;
}

// Debian's libhttp-parser is built without HTTP_PARSER_STRICT's chunk checks:
// it accepts any two bytes after chunk data and any byte after the CR of a
// chunk-size line. This verifier walks the same bytes before http_parser sees
// them and rejects anything that is not exactly RFC 9112 §7.1 framing. The
// framing decisions themselves stay with http_parser.
class ChunkVerifier {
 public:
  enum class Result { kOk, kBad, kTooLong };

  // Checks up to the end of the chunked body; bytes after it are not looked at.
  Result check(const char* data, size_t len) {
    for (size_t i = 0; i < len && state_ != State::kDone; ++i) {
      auto c = static_cast<unsigned char>(data[i]);
      switch (state_) {
        case State::kSize:
          if (int v = hex_value(c); v >= 0) {
            if (size_ > (uint64_t{1} << 59)) return Result::kBad;
            size_ = size_ * 16 + static_cast<uint64_t>(v);
            any_digit_ = true;
          } else if (any_digit_ && c == ';') {
            state_ = State::kExtension;
          } else if (any_digit_ && c == '\r') {
            state_ = State::kSizeLF;
          } else {
            return Result::kBad;
          }
          if (++line_len_ > kMaxSizeLine) return Result::kBad;
          break;
        case State::kExtension:
          if (c == '\r') {
            state_ = State::kSizeLF;
          } else if (!is_field_char(c)) {
            return Result::kBad;
          }
          if (++line_len_ > kMaxSizeLine) return Result::kBad;
          break;
        case State::kSizeLF:
          if (c != '\n') return Result::kBad;
          state_ = size_ == 0 ? State::kTrailerLineStart : State::kData;
          break;
        case State::kData: {
          uint64_t take = std::min<uint64_t>(size_, len - i);
          size_ -= take;
          i += take - 1;
          if (size_ == 0) state_ = State::kDataCR;
          break;
        }
        case State::kDataCR:
          if (c != '\r') return Result::kBad;
          state_ = State::kDataLF;
          break;
        case State::kDataLF:
          if (c != '\n') return Result::kBad;
          state_ = State::kSize;
          any_digit_ = false;
          line_len_ = 0;
          break;
        case State::kTrailerLineStart:
          state_ = c == '\r' ? State::kFinalLF : State::kTrailerLine;
          if (c != '\r' && !is_tchar(c)) return Result::kBad;  // no obs-fold, no junk
          [[fallthrough]];
        case State::kTrailerLine:
          if (++trailer_len_ > kMaxTrailerBytes) return Result::kTooLong;
          if (state_ == State::kTrailerLine) {
            if (c == '\r') {
              state_ = State::kTrailerLF;
            } else if (!is_field_char(c)) {
              return Result::kBad;
            }
          }
          break;
        case State::kTrailerLF:
          if (c != '\n') return Result::kBad;
          state_ = State::kTrailerLineStart;
          break;
        case State::kFinalLF:
          if (c != '\n') return Result::kBad;
          state_ = State::kDone;
          break;
        case State::kDone:
          break;
      }
    }
    return Result::kOk;
  }

 private:
  enum class State {
    kSize,
    kExtension,
    kSizeLF,
    kData,
    kDataCR,
    kDataLF,
    kTrailerLineStart,
    kTrailerLine,
    kTrailerLF,
    kFinalLF,
    kDone
  };
  static constexpr size_t kMaxSizeLine = 1024;
  static constexpr size_t kMaxTrailerBytes = 16 * 1024;

  static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  State state_ = State::kSize;
  uint64_t size_ = 0;
  bool any_digit_ = false;
  size_t line_len_ = 0;
  size_t trailer_len_ = 0;
};

struct HeadError {
  int status;
  const char* message;
};

}  // namespace

struct Http1Parser::Impl {
  Http1Parser& owner;
  Mode mode;
  Callbacks& callbacks;
  CodecLimits limits;
  http_parser parser{};
  http_parser_settings settings{};

  std::string head_buf;         // raw head bytes until the blank line
  bool head_buffered = false;   // head handed to http_parser; body bytes go straight there
  bool first_line_open = true;  // request/status line not finished yet
  size_t leading_empty_lines = 0;
  int interim_count = 0;
  bool interim = false;  // the head just parsed is a 1xx

  std::string request_method;  // kResponse: method of the request being answered
  uint64_t body_total = 0;     // chunked bytes announced so far
  bool keep_alive = false;
  bool expects_body = false;
  bool skip_body = false;  // tell http_parser there is no body (HEAD, 1xx, 204, 304)
  bool chunked = false;
  ChunkVerifier chunk_verifier;

  RequestHead request_head;
  ResponseHead response_head;

  Impl(Http1Parser& o, Mode m, Callbacks& cb, CodecLimits l)
      : owner(o), mode(m), callbacks(cb), limits(l) {
    http_parser_settings_init(&settings);
    settings.on_headers_complete = &Impl::on_headers_complete;
    settings.on_body = &Impl::on_body;
    settings.on_chunk_header = &Impl::on_chunk_header;
    settings.on_message_complete = &Impl::on_message_complete;
    reset_parser();
  }

  void reset_parser() {
    http_parser_init(&parser, mode == Mode::kRequest ? HTTP_REQUEST : HTTP_RESPONSE);
    parser.data = this;
    head_buf.clear();
    head_buffered = false;
    first_line_open = true;
    interim = false;
    body_total = 0;
    keep_alive = false;
    expects_body = false;
    skip_body = false;
    chunked = false;
    chunk_verifier = ChunkVerifier{};
  }

  void fail(int status, std::string message) {
    if (owner.error_status_ != 0) return;  // keep the first cause
    owner.error_status_ = status;
    owner.error_message_ = std::move(message);
  }

  // A user callback (`which`: head, body, completion) threw.
  void fail_on_exception(std::string_view which, std::string_view what) {
    fail(500, "exception in " + std::string(which) + " callback: " + std::string(what));
  }

  // Copies head bytes until the blank line. Returns bytes consumed; sets
  // `done` when the head is complete. Rejects bare LF and enforces limits.
  // Works a line at a time (memchr for the LF, one append per run) rather
  // than a byte at a time: same checks, same failing byte, less work per byte.
  size_t accumulate(const char* data, size_t len, bool* done) {
    size_t i = 0;
    while (i < len) {
      const auto* lf = static_cast<const char*>(std::memchr(data + i, '\n', len - i));
      const size_t run_end = lf != nullptr ? static_cast<size_t>(lf - data) : len;
      if (run_end > i) {
        // Invariant: head_buf.size() <= head_limit() (every byte so far passed).
        const size_t room = head_limit() - head_buf.size();
        if (run_end - i > room) {  // the byte at i + room is the first one too many
          head_buf.append(data + i, room + 1);
          fail_head_too_large();
          return i + room + 1;
        }
        head_buf.append(data + i, run_end - i);
        i = run_end;
        if (i == len) return len;
      }
      head_buf.push_back('\n');  // data[i]
      ++i;
      size_t n = head_buf.size();
      if (n < 2 || head_buf[n - 2] != '\r') {
        fail(400, "bare LF in message head");
        return i;
      }
      if (n == 2) {  // empty line before the start line
        head_buf.clear();
        if (++leading_empty_lines > kMaxLeadingEmptyLines) {
          fail(400, "too many empty lines before the start line");
          return i;
        }
        continue;
      }
      first_line_open = false;
      if (n >= 4 && head_buf.compare(n - 4, 4, "\r\n\r\n") == 0) {
        *done = true;
        return i;
      }
      if (head_buf.size() > head_limit()) {
        fail_head_too_large();
        return i;
      }
    }
    return len;
  }

  // The most head bytes allowed so far: the start line has its own cap.
  size_t head_limit() const {
    return first_line_open ? std::min(limits.max_request_line + 2, limits.max_head_bytes)
                           : limits.max_head_bytes;
  }

  void fail_head_too_large() {
    if (first_line_open) {
      fail(mode == Mode::kRequest ? 414 : 502, "start line too long");
    } else {
      fail(mode == Mode::kRequest ? 431 : 502, "message head too large");
    }
  }

  // --- validation of the raw head ------------------------------------------

  std::optional<HeadError> parse_request_line(std::string_view line) {
    size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return HeadError{400, "malformed request line"};
    size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return HeadError{400, "malformed request line"};
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method)) return HeadError{400, "invalid method"};
    if (target.empty() || version.find(' ') != std::string_view::npos) {
      return HeadError{400, "malformed request line"};
    }
    for (unsigned char c : target) {
      if (c <= 0x20 || c >= 0x7f) return HeadError{400, "invalid character in request target"};
      if (c == '#') return HeadError{400, "fragment in request target"};
    }
    if (target == "*") {
      if (method != "OPTIONS") return HeadError{400, "asterisk-form only allowed for OPTIONS"};
    } else if (target.front() != '/') {
      return HeadError{400, "only origin-form request targets are accepted"};
    }
    if (auto err = check_version(version)) return err;
    request_head = RequestHead{};
    request_head.method = std::string(method);
    request_head.target = std::string(target);
    size_t q = target.find('?');
    request_head.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_head.query = std::string(target.substr(q + 1));
    request_head.version_minor = version.back() - '0';
    return std::nullopt;
  }

  static std::optional<HeadError> check_version(std::string_view version) {
    if (version == "HTTP/1.1" || version == "HTTP/1.0") return std::nullopt;
    if (version.starts_with("HTTP/")) {
      std::string_view digits = version.substr(5);
      size_t dot = digits.find('.');
      if (dot != std::string_view::npos && all_digits(digits.substr(0, dot)) &&
          all_digits(digits.substr(dot + 1))) {
        return HeadError{505, "unsupported HTTP version"};
      }
    }
    return HeadError{400, "malformed HTTP version"};
  }

  std::optional<HeadError> parse_status_line(std::string_view line) {
    if (line.size() < 12 || line[8] != ' ') return HeadError{502, "malformed status line"};
    if (auto err = check_version(line.substr(0, 8))) return HeadError{502, err->message};
    std::string_view code = line.substr(9, 3);
    if (!all_digits(code)) return HeadError{502, "malformed status code"};
    std::string_view reason;
    if (line.size() > 12) {
      if (line[12] != ' ') return HeadError{502, "malformed status line"};
      reason = line.substr(13);
    }
    if (!all_field_chars(reason)) return HeadError{502, "invalid character in reason phrase"};
    int status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (status < 100 || status > 599) return HeadError{502, "status code out of range"};
    response_head = ResponseHead{};
    response_head.status = status;
    response_head.reason = std::string(reason);
    return std::nullopt;
  }

  std::optional<HeadError> parse_header_line(std::string_view line, HeaderMap& headers) {
    int bad = mode == Mode::kRequest ? 400 : 502;
    if (line.front() == ' ' || line.front() == '\t') return HeadError{bad, "obsolete line folding"};
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return HeadError{bad, "header line without colon"};
    std::string_view name = line.substr(0, colon);
    if (name.empty()) return HeadError{bad, "empty header name"};
    if (name.back() == ' ' || name.back() == '\t') {
      return HeadError{bad, "whitespace between header name and colon"};
    }
    if (!is_token(name)) return HeadError{bad, "invalid character in header name"};
    std::string_view value = trim_ows(line.substr(colon + 1));
    if (!all_field_chars(value)) return HeadError{bad, "invalid character in header value"};
    if (headers.size() >= limits.max_header_count) {
      return HeadError{mode == Mode::kRequest ? 431 : 502, "too many header fields"};
    }
    headers.add(name, value);  // views into its storage: no copy
    return std::nullopt;
  }

  // Framing rules http_parser does not enforce the way we want (RFC 9112 §6).
  std::optional<HeadError> check_framing(const HeaderMap& headers) {
    bool request = mode == Mode::kRequest;
    int bad = request ? 400 : 502;
    size_t cl_count = headers.count("Content-Length");
    size_t te_count = headers.count("Transfer-Encoding");
    if (cl_count > 1) return HeadError{bad, "duplicate Content-Length"};
    if (te_count > 1) return HeadError{bad, "repeated Transfer-Encoding"};
    if (cl_count && te_count) return HeadError{bad, "Content-Length with Transfer-Encoding"};
    if (te_count) {
      if (!iequals(*headers.get("Transfer-Encoding"), "chunked")) {
        return HeadError{request ? 501 : 502, "unsupported Transfer-Encoding"};
      }
      if (request && request_head.version_minor == 0) {
        return HeadError{400, "Transfer-Encoding in an HTTP/1.0 request"};
      }
    }
    if (cl_count) {
      const std::string_view v = *headers.get("Content-Length");
      uint64_t length = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
      if (!all_digits(v) || ec != std::errc() || end != v.data() + v.size()) {
        return HeadError{request ? 400 : 502, "invalid Content-Length"};
      }
      if (limits.max_body_bytes != 0 && length > limits.max_body_bytes) {
        return HeadError{request ? 413 : 502, "body too large"};
      }
    }
    if (request) {
      size_t hosts = headers.count("Host");
      if (hosts > 1) return HeadError{400, "multiple Host headers"};
      if (hosts == 0 && request_head.version_minor == 1) return HeadError{400, "missing Host"};
      if (hosts == 1 && !is_valid_host(*headers.get("Host"))) return HeadError{400, "invalid Host"};
    }
    return std::nullopt;
  }

  std::optional<HeadError> validate_head() {
    // Every line ends in CRLF (checked while reading). One memchr walk over
    // the CRs finds a bare CR and counts the lines, one memchr finds a NUL;
    // the lines are then cut without building a vector of them.
    std::string_view rest(head_buf.data(), head_buf.size() - 2);  // drop the final CRLF
    const char* const begin = rest.data();
    const char* const end = begin + rest.size();
    int bad = mode == Mode::kRequest ? 400 : 502;
    size_t line_count = 0;
    const char* bare_cr = nullptr;
    for (const char* p = begin; p < end; p += 2, ++line_count) {
      p = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
      if (p == nullptr) break;
      if (p + 1 == end || p[1] != '\n') {
        bare_cr = p;
        break;
      }
    }
    if (const auto* nul = static_cast<const char*>(std::memchr(begin, '\0', rest.size()))) {
      // The first line with either wins; a line with both reports the CR.
      const size_t nul_line_end = rest.find("\r\n", static_cast<size_t>(nul - begin));
      if (bare_cr == nullptr || static_cast<size_t>(bare_cr - begin) > nul_line_end)
        return HeadError{bad, "NUL in message head"};
    }
    if (bare_cr != nullptr) return HeadError{bad, "bare CR in message head"};
    // No bare CR is left: every CR starts a line's CRLF.
    auto next_line = [&rest]() {
      const auto* cr = static_cast<const char*>(std::memchr(rest.data(), '\r', rest.size()));
      const auto len = static_cast<size_t>(cr - rest.data());
      std::string_view line = rest.substr(0, len);
      rest.remove_prefix(len + 2);
      return line;
    };
    HeaderMap* headers = nullptr;
    if (mode == Mode::kRequest) {
      if (auto err = parse_request_line(next_line())) return err;
      headers = &request_head.headers;
    } else {
      if (auto err = parse_status_line(next_line())) return err;
      headers = &response_head.headers;
    }
    // The header lines become the map's storage in one copy; each field is
    // a view into it, not two allocated strings.
    std::string storage;
    storage.reserve(rest.size() + (mode == Mode::kResponse ? kResponseStorageSlack : 0));
    storage.append(rest);
    headers->adopt_storage(std::move(storage));
    rest = headers->storage();
    headers->reserve(std::min(line_count - 1, limits.max_header_count + 1), 0);
    while (!rest.empty()) {
      if (auto err = parse_header_line(next_line(), *headers)) return err;
    }
    if (mode == Mode::kResponse && response_head.status == 101) {
      return HeadError{502, "unexpected 101 Switching Protocols"};
    }
    return check_framing(*headers);
  }

  // --- http_parser glue ------------------------------------------------------

  void map_parser_error() {
    auto err = HTTP_PARSER_ERRNO(&parser);
    if (owner.error_status_ != 0) return;  // one of our callbacks already said why
    int status = 400;
    if (mode == Mode::kResponse) {
      status = 502;
    } else if (err == HPE_INVALID_METHOD) {
      status = 501;
    } else if (err == HPE_HEADER_OVERFLOW) {
      status = 431;
    }
    fail(status, std::string("http_parser: ") + http_errno_description(err));
  }

  // Feeds the validated head to http_parser for framing.
  void process_head() {
    if (auto err = validate_head()) {
      fail(err->status, err->message);
      return;
    }
    size_t n = http_parser_execute(&parser, &settings, head_buf.data(), head_buf.size());
    auto err = HTTP_PARSER_ERRNO(&parser);
    if (err == HPE_PAUSED) return;  // message without body, complete
    if (err != HPE_OK || n != head_buf.size()) {
      map_parser_error();
      return;
    }
    if (interim) {  // 1xx: consumed silently, the real response follows
      if (++interim_count > kMaxInterimResponses) {
        fail(502, "too many interim responses");
        return;
      }
      reset_parser();
      return;
    }
    head_buffered = true;
  }

  size_t execute_body(const char* data, size_t len) {
    if (chunked && len > 0) {
      auto result = chunk_verifier.check(data, len);
      bool request = mode == Mode::kRequest;
      if (result == ChunkVerifier::Result::kBad) {
        fail(request ? 400 : 502, "malformed chunked framing");
        return 0;
      }
      if (result == ChunkVerifier::Result::kTooLong) {
        fail(request ? 431 : 502, "trailer section too large");
        return 0;
      }
    }
    size_t n = http_parser_execute(&parser, &settings, data, len);
    auto err = HTTP_PARSER_ERRNO(&parser);
    if (err != HPE_OK && err != HPE_PAUSED) map_parser_error();
    return n;
  }

  static Impl& self(http_parser* p) { return *static_cast<Impl*>(p->data); }

  static int on_headers_complete(http_parser* p) {
    Impl& s = self(p);
    int result = -1;
    exception_barrier([&] { result = s.headers_complete(); },
                      [&](std::string_view what) { s.fail_on_exception("head", what); });
    return result;
  }

  int headers_complete() {
    keep_alive = http_should_keep_alive(&parser) != 0;
    chunked = (parser.flags & F_CHUNKED) != 0;
    if (mode == Mode::kRequest) {
      expects_body = (parser.flags & F_CHUNKED) ||
                     (parser.content_length > 0 && parser.content_length != ULLONG_MAX);
      owner.head_complete_ = true;
      callbacks.on_request_head(std::move(request_head));
      return 0;
    }
    int status = response_head.status;
    if (status < 200) {
      interim = true;
      return 1;
    }
    skip_body = status == 204 || status == 304 || request_method == "HEAD";
    if (skip_body) {
      expects_body = false;
    } else if (parser.flags & F_CHUNKED) {
      expects_body = true;
    } else if (parser.content_length != ULLONG_MAX) {
      expects_body = parser.content_length > 0;
    } else {
      expects_body = true;  // delimited by close
      keep_alive = false;
    }
    owner.head_complete_ = true;
    callbacks.on_response_head(std::move(response_head));
    return skip_body ? 1 : 0;
  }

  static int on_chunk_header(http_parser* p) {
    Impl& s = self(p);
    s.body_total += p->content_length;
    if (s.limits.max_body_bytes != 0 && s.body_total > s.limits.max_body_bytes) {
      s.fail(s.mode == Mode::kRequest ? 413 : 502, "body too large");
      return -1;
    }
    return 0;
  }

  static int on_body(http_parser* p, const char* at, size_t len) {
    Impl& s = self(p);
    bool ok = exception_barrier([&] { s.callbacks.on_body(std::string_view(at, len)); },
                                [&](std::string_view what) { s.fail_on_exception("body", what); });
    return ok ? 0 : -1;
  }

  static int on_message_complete(http_parser* p) {
    Impl& s = self(p);
    if (s.interim) return 0;
    // Flags are final now (F_SKIPBODY for HEAD responses).
    s.keep_alive = http_should_keep_alive(p) != 0;
    s.owner.complete_ = true;
    http_parser_pause(p, 1);  // one message per feed(): the caller keeps the rest
    exception_barrier([&] { s.callbacks.on_message_complete(); },
                      [&](std::string_view what) { s.fail_on_exception("completion", what); });
    return 0;  // errno is already PAUSED; on failure failed() reports the problem
  }
};

Http1Parser::Http1Parser(Mode mode, Callbacks& callbacks, CodecLimits limits)
    : impl_(std::make_unique<Impl>(*this, mode, callbacks, limits)) {}

Http1Parser::~Http1Parser() = default;

size_t Http1Parser::feed(const char* data, size_t len) {
  feeding_ = true;
  size_t used = 0;
  while (used < len && !failed() && !complete_) {
    if (!impl_->head_buffered) {
      bool done = false;
      used += impl_->accumulate(data + used, len - used, &done);
      if (!done || failed()) break;
      impl_->process_head();
      if (stop_after_head_ && head_complete_) break;
    } else {
      used += impl_->execute_body(data + used, len - used);
    }
  }
  feeding_ = false;
  if (release_after_feed_) {
    release_after_feed_ = false;
    release_head_buffer();
  }
  return used;
}

void Http1Parser::feed_eof() {
  if (failed() || complete_) return;
  if (!impl_->head_buffered) {
    if (!impl_->head_buf.empty())
      impl_->fail(impl_->mode == Mode::kRequest ? 400 : 502, "EOF inside message head");
    return;
  }
  impl_->execute_body(nullptr, 0);
  if (!complete_ && !failed())
    impl_->fail(impl_->mode == Mode::kRequest ? 400 : 502, "EOF inside message body");
}

void Http1Parser::next_message() {
  impl_->reset_parser();
  impl_->request_method.clear();
  impl_->interim_count = 0;
  impl_->leading_empty_lines = 0;
  complete_ = false;
  head_complete_ = false;
  release_after_feed_ = false;
}

void Http1Parser::set_request_method(std::string_view method) {
  impl_->request_method = std::string(method);
}

void Http1Parser::release_head_buffer() {
  if (!head_complete_) return;  // the head is still being read: its bytes are needed
  if (feeding_) {               // http_parser may still be walking them
    release_after_feed_ = true;
    return;
  }
  std::string().swap(impl_->head_buf);
}

size_t Http1Parser::head_buffer_capacity() const {
  return impl_->head_buf.capacity();
}

bool Http1Parser::keep_alive() const {
  return impl_->keep_alive;
}

bool Http1Parser::expects_body() const {
  return impl_->expects_body;
}

namespace {

bool safe_field(const Header& h) {
  return is_token(h.name) && all_field_chars(h.value);
}

void append_fields(std::string& out, const HeaderMap& headers) {
  // Sized once: growing a ~1 KiB head by appends reallocates and copies it
  // several times.
  size_t size = out.size() + 2;
  for (const auto& h : headers) size += h.name.size() + h.value.size() + 4;
  out.reserve(size);
  for (const auto& h : headers) {
    // A CR/LF/NUL here would split the message: drop the field.
    if (!safe_field(h)) continue;
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace

std::string serialize_response_head(const ResponseHead& head, int version_minor) {
  int status = (head.status >= 100 && head.status <= 999) ? head.status : 500;
  std::string_view reason = head.reason;
  if (reason.empty() || !all_field_chars(reason)) reason = reason_phrase(status);
  std::string out = version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out.append(std::to_string(status)).append(" ").append(reason).append("\r\n");
  append_fields(out, head.headers);
  return out;
}

std::string serialize_request_head(const RequestHead& head) {
  std::string out = is_token(head.method) ? head.method : "GET";
  out.append(" ");
  std::string target = head.target;
  if (target.empty()) {
    target = head.path.empty() ? "/" : head.path;
    if (!head.query.empty()) target.append("?").append(head.query);
  }
  // Percent-encode anything that could break the request line.
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out.append(buf);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.append(" HTTP/1.1\r\n");
  append_fields(out, head.headers);
  return out;
}

std::string chunk_prefix(size_t size) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%zx\r\n", size);
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace mag::http
