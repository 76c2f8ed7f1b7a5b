#include "proxy/config/value_syntax.h"

#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace mag::config {
bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c <= 0x20 || c == 0x7F;
  });
}

bool parse_port(std::string_view digits, uint16_t* port) {
  if (digits.empty() || digits.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  if (value == 0 || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// "host:port" or "[v6]:port"; returns an empty string when fine, else the reason.
std::string check_host_port(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return "expected host:port, e.g. 127.0.0.1:8000";
  std::string_view host = address.substr(0, colon);
  uint16_t port = 0;
  if (!parse_port(address.substr(colon + 1), &port)) {
    return "expected host:port with a port in 1..65535";
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    const bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
    return ok ? "" : "invalid IPv6 address in brackets";
  }
  if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char)) {
    return "expected host:port (IPv6 in brackets: [::1]:8000)";
  }
  return "";
}

// Splits an absolute http(s) URL with http_parser_parse_url. Refuses
// userinfo, query, fragment, whitespace and control characters. Returns the
// reason on failure.
std::string parse_url(std::string_view text, Url* url) {
  if (has_control_or_space(text)) return "must not contain spaces or control characters";
  if (text.find('#') != std::string_view::npos) return "must not have a fragment ('#')";
  if (text.find('?') != std::string_view::npos) return "must not have a query ('?')";
  if (text.find('@') != std::string_view::npos) return "must not contain userinfo ('@')";
  http_parser_url parsed;
  http_parser_url_init(&parsed);
  if (http_parser_parse_url(text.data(), text.size(), 0, &parsed) != 0 ||
      !(parsed.field_set & (1 << UF_SCHEMA)) || !(parsed.field_set & (1 << UF_HOST))) {
    return "is not an absolute URL";
  }
  auto field = [&](int f) {
    return std::string(text.substr(parsed.field_data[f].off, parsed.field_data[f].len));
  };
  url->scheme = field(UF_SCHEMA);
  if (url->scheme != "http" && url->scheme != "https") {
    return "must start with http:// or https://";
  }
  url->host = field(UF_HOST);
  if (url->host.empty()) return "has no host";
  if (parsed.field_set & (1 << UF_PORT)) {
    if (!parse_port(field(UF_PORT), &url->port)) return "has an invalid port";
  }
  url->path = (parsed.field_set & (1 << UF_PATH)) ? field(UF_PATH) : "";
  const size_t authority_start = url->scheme.size() + 3;  // "://"
  const size_t authority_end = text.find('/', authority_start);
  url->authority = std::string(text.substr(authority_start, authority_end - authority_start));
  return "";
}

}  // namespace mag::config
