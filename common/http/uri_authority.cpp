#include "common/http/uri_authority.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

namespace mag::http {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}
bool is_lower_alpha(char c) {
  return c >= 'a' && c <= 'z';
}
bool all_of(std::string_view text, bool (*pred)(char)) {
  return std::all_of(text.begin(), text.end(), pred);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string_view> split_labels(std::string_view name) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  for (;;) {
    const size_t dot = name.find('.', start);
    labels.push_back(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return labels;
    start = dot + 1;
  }
}

// Four decimal octets 0-255 without leading zeros: the only IPv4 form
// accepted (no `127.1`, octal `0177.0.0.1`, hex `0x7f.0.0.1`).
bool is_dotted_quad(std::string_view text) {
  const auto labels = split_labels(text);
  if (labels.size() != 4) return false;
  for (std::string_view octet : labels) {
    if (octet.empty() || octet.size() > 3 || !all_of(octet, is_digit)) return false;
    if (octet.size() > 1 && octet.front() == '0') return false;
    if (std::stoi(std::string(octet)) > 255) return false;
  }
  return true;
}

// WHATWG URL "ends in a number": a browser would read the name as IPv4.
bool ends_in_number(std::string_view name) {
  const std::string_view last = split_labels(name).back();
  if (!last.empty() && all_of(last, is_digit)) return true;
  return last.size() >= 2 && last[0] == '0' && last[1] == 'x' && all_of(last.substr(2), is_hex);
}

bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (std::string_view label : split_labels(name)) {
    if (label.empty() || label.size() > 63) return false;
    if (!all_of(label, [](char c) { return is_lower_alpha(c) || is_digit(c) || c == '-'; })) {
      return false;
    }
  }
  return true;
}

// "[...]" with an IPv6 address inside, in its canonical form; nullopt else
// (zone ids and IPvFuture included).
std::optional<std::string> canonical_ipv6(std::string_view inside) {
  if (inside.empty() || inside.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(inside);
  in6_addr address{};
  if (inet_pton(AF_INET6, text.c_str(), &address) != 1) return std::nullopt;
  char out[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(AF_INET6, &address, out, sizeof out)) return std::nullopt;
  return "[" + std::string(out) + "]";
}

// 1-65535, digits only, no leading zero.
bool is_port(std::string_view port) {
  if (port.empty() || port.size() > 5 || !all_of(port, is_digit) || port.front() == '0') {
    return false;
  }
  return std::stoi(std::string(port)) <= 65535;
}

}  // namespace

std::optional<Authority> parse_authority(std::string_view text) {
  Authority authority;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto host = canonical_ipv6(text.substr(1, close - 1));
    if (!host) return std::nullopt;
    authority.host = std::move(*host);
    authority.ip_literal = true;
    rest = text.substr(close + 1);
  } else {
    const size_t colon = text.find(':');
    std::string host = lowercase(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
    // One trailing dot (a fully qualified name) is the same host.
    if (!host.empty() && host.back() == '.') host.pop_back();
    if (!is_host_name(host)) return std::nullopt;
    authority.ip_literal = ends_in_number(host);
    if (authority.ip_literal && !is_dotted_quad(host)) return std::nullopt;
    authority.host = std::move(host);
  }
  if (rest.empty()) return authority;
  if (rest.front() != ':' || !is_port(rest.substr(1))) return std::nullopt;
  authority.port = std::string(rest.substr(1));
  return authority;
}

std::optional<std::string> normalise_origin(std::string_view text) {
  const size_t separator = text.find("://");
  if (separator == std::string_view::npos || separator == 0) return std::nullopt;
  const std::string scheme = lowercase(text.substr(0, separator));
  if (!is_lower_alpha(scheme.front()) || !all_of(scheme, [](char c) {
        return is_lower_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
      })) {
    return std::nullopt;
  }
  auto authority = parse_authority(text.substr(separator + 3));
  if (!authority) return std::nullopt;
  if ((scheme == "http" && authority->port == "80") ||
      (scheme == "https" && authority->port == "443")) {
    authority->port.clear();
  }
  return scheme + "://" + authority->text();
}

}  // namespace mag::http
