#include "proxy/router/media_type.h"

#include <cstring>

#include "common/http/http_message.h"

namespace mag::proxy {
namespace {

// tchar (RFC 9110 §5.6.2).
bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// qdtext (RFC 9110 §5.6.4): HTAB, SP, 0x21, 0x23-0x5B, 0x5D-0x7E, obs-text.
bool is_qdtext(unsigned char c) {
  return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
         (c >= 0x5D && c <= 0x7E) || c >= 0x80;
}

// The second byte of a quoted-pair: HTAB, SP, VCHAR, obs-text.
bool is_quotable(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A reader over the field value; every function consumes what it read.
class Reader {
 public:
  explicit Reader(std::string_view text) : rest_(text) {}

  bool done() const { return rest_.empty(); }
  bool peek(char c) const { return !rest_.empty() && rest_.front() == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    rest_.remove_prefix(1);
    return true;
  }
  void skip_ows() {
    while (!rest_.empty() && is_ows(rest_.front())) rest_.remove_prefix(1);
  }
  // 1*tchar, or nullopt.
  std::optional<std::string_view> token() {
    size_t n = 0;
    while (n < rest_.size() && is_tchar(static_cast<unsigned char>(rest_[n]))) ++n;
    if (n == 0) return std::nullopt;
    std::string_view out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }
  // DQUOTE *( qdtext / quoted-pair ) DQUOTE, unescaped; nullopt when not closed.
  std::optional<std::string> quoted_string() {
    if (!take('"')) return std::nullopt;
    std::string out;
    while (!rest_.empty()) {
      const auto c = static_cast<unsigned char>(rest_.front());
      rest_.remove_prefix(1);
      if (c == '"') return out;
      if (c == '\\') {
        if (rest_.empty() || !is_quotable(static_cast<unsigned char>(rest_.front()))) break;
        out.push_back(rest_.front());
        rest_.remove_prefix(1);
      } else if (is_qdtext(c)) {
        out.push_back(static_cast<char>(c));
      } else {
        break;
      }
    }
    return std::nullopt;
  }

 private:
  std::string_view rest_;
};

std::optional<MediaTypeParameter> parameter(Reader& in) {
  auto name = in.token();
  if (!name || !in.take('=')) return std::nullopt;
  MediaTypeParameter out;
  out.name = lowercase(*name);
  if (in.peek('"')) {
    auto value = in.quoted_string();
    if (!value) return std::nullopt;
    out.value = std::move(*value);
  } else {
    auto value = in.token();
    if (!value) return std::nullopt;
    out.value = std::string(*value);
  }
  return out;
}

}  // namespace

std::optional<MediaType> parse_media_type(std::string_view field_value) {
  while (!field_value.empty() && is_ows(field_value.front())) field_value.remove_prefix(1);
  while (!field_value.empty() && is_ows(field_value.back())) field_value.remove_suffix(1);
  Reader in(field_value);
  MediaType out;
  auto type = in.token();
  if (!type || !in.take('/')) return std::nullopt;
  auto subtype = in.token();
  if (!subtype) return std::nullopt;
  out.type = lowercase(*type);
  out.subtype = lowercase(*subtype);
  for (;;) {
    in.skip_ows();
    if (in.done()) return out;
    if (!in.take(';')) return std::nullopt;
    in.skip_ows();
    if (in.done() || in.peek(';')) continue;  // an empty parameter
    auto param = parameter(in);
    if (!param) return std::nullopt;
    out.parameters.push_back(std::move(*param));
  }
}

bool is_plain_json(const MediaType& media_type) {
  if (media_type.type != "application" || media_type.subtype != "json") return false;
  if (media_type.parameters.empty()) return true;
  if (media_type.parameters.size() != 1) return false;
  const MediaTypeParameter& only = media_type.parameters.front();
  return only.name == "charset" && http::iequals(only.value, "utf-8");
}

bool is_event_stream(const http::HeaderMap& headers) {
  const std::string_view* type = headers.get("content-type");
  if (!type || headers.count("content-type") != 1) return false;
  return http::iequals(http::trim_ows(type->substr(0, type->find(';'))), "text/event-stream");
}

}  // namespace mag::proxy
