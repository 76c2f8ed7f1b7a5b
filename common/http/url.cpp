#include "common/http/url.h"

#include <algorithm>
#include <charconv>

namespace mag::http {

namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool is_space_or_control(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c <= 0x20 || c == 0x7f;
}

bool is_host_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

struct HostPort {
  std::string_view host;
  std::string_view port;  // digits, empty when absent
};

// "host", "host:port", "[v6]" or "[v6]:port"; nullopt when malformed.
std::optional<HostPort> split_host_port(std::string_view authority) {
  HostPort result;
  std::string_view after;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    result.host = authority.substr(1, close - 1);
    if (result.host.empty() || !std::all_of(result.host.begin(), result.host.end(), is_ipv6_char)) {
      return std::nullopt;
    }
    after = authority.substr(close + 1);
  } else {
    const size_t colon = authority.find(':');
    result.host = authority.substr(0, colon);
    if (result.host.empty() || !std::all_of(result.host.begin(), result.host.end(), is_host_char)) {
      return std::nullopt;
    }
    if (colon != std::string_view::npos) after = authority.substr(colon);
  }
  if (after.empty()) return result;
  if (after.front() != ':') return std::nullopt;
  result.port = after.substr(1);
  if (result.port.empty() || !std::all_of(result.port.begin(), result.port.end(), is_digit)) {
    return std::nullopt;
  }
  return result;
}

}  // namespace

uint16_t Url::effective_port() const {
  if (port != 0) return port;
  return scheme == "https" ? 443 : 80;
}

UrlError parse_absolute_url(std::string_view text, Url* out, SchemeCase scheme_case) {
  if (std::any_of(text.begin(), text.end(), is_space_or_control)) {
    return UrlError::kSpaceOrControl;
  }
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return UrlError::kNotAbsolute;
  const std::string_view scheme = text.substr(0, scheme_end);
  if (!std::all_of(scheme.begin(), scheme.end(), is_alpha)) return UrlError::kNotAbsolute;

  Url url;
  std::string_view rest = text.substr(scheme_end + 3);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) {
    url.fragment.emplace(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
  }
  if (size_t question = rest.find('?'); question != std::string_view::npos) {
    url.query.emplace(rest.substr(question + 1));
    rest = rest.substr(0, question);
  }
  const size_t path_start = rest.find('/');
  const std::string_view authority = rest.substr(0, path_start);
  if (path_start != std::string_view::npos) url.path.assign(rest.substr(path_start));
  if (authority.find('@') != std::string_view::npos) return UrlError::kUserinfo;
  const auto host_port = split_host_port(authority);
  if (!host_port) return UrlError::kNotAbsolute;
  unsigned long port = 0;
  if (!host_port->port.empty()) {
    const auto* end = host_port->port.data() + host_port->port.size();
    auto [p, ec] = std::from_chars(host_port->port.data(), end, port);
    if (ec != std::errc() || p != end || port > 65535) return UrlError::kNotAbsolute;
  }

  for (char c : scheme) url.scheme.push_back(ascii_lower(c));
  if (url.scheme != "http" && url.scheme != "https") return UrlError::kScheme;
  if (scheme_case == SchemeCase::kLowerOnly && url.scheme != scheme) return UrlError::kScheme;
  if (!host_port->port.empty() && (port == 0 || host_port->port.size() > 5)) {
    return UrlError::kPort;
  }
  url.port = static_cast<uint16_t>(port);
  url.host.assign(host_port->host);
  url.authority.assign(authority);
  *out = std::move(url);
  return UrlError::kNone;
}

}  // namespace mag::http
