#include "proxy/config/value_syntax.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "common/http/url.h"

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

namespace {

// The config's wording for the shared parser's refusals.
const char* url_error_reason(http::UrlError error) {
  switch (error) {
    case http::UrlError::kNone:
      return "";
    case http::UrlError::kSpaceOrControl:
      return "must not contain spaces or control characters";
    case http::UrlError::kUserinfo:
      return "must not contain userinfo ('@')";
    case http::UrlError::kScheme:
      return "must start with http:// or https://";
    case http::UrlError::kPort:
      return "has an invalid port";
    case http::UrlError::kNotAbsolute:
      break;
  }
  return "is not an absolute URL";
}

}  // namespace

// Splits an absolute http(s) URL with http::parse_absolute_url. Refuses
// userinfo, query, fragment, whitespace, control characters and a scheme not
// written in lower case. Returns the reason on failure.
std::string parse_url(std::string_view text, Url* url) {
  if (has_control_or_space(text)) return "must not contain spaces or control characters";
  if (text.find('#') != std::string_view::npos) return "must not have a fragment ('#')";
  if (text.find('?') != std::string_view::npos) return "must not have a query ('?')";
  if (text.find('@') != std::string_view::npos) return "must not contain userinfo ('@')";
  http::Url parsed;
  if (auto error = http::parse_absolute_url(text, &parsed, http::SchemeCase::kLowerOnly);
      error != http::UrlError::kNone) {
    return url_error_reason(error);
  }
  url->scheme = std::move(parsed.scheme);
  url->host = std::move(parsed.host);
  url->port = parsed.port;
  url->path = std::move(parsed.path);
  url->authority = std::move(parsed.authority);
  return "";
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace mag::config
