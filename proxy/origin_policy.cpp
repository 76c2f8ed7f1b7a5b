#include "proxy/origin_policy.h"

#include <arpa/inet.h>
#include <jansson.h>

#include <algorithm>

#include "common/c_handles.h"

namespace mag::proxy {
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

// The authority of an absolute URL ("https://h:1/x" → "h:1").
std::string_view url_authority(std::string_view url) {
  const size_t start = url.find("://");
  if (start == std::string_view::npos) return {};
  const std::string_view rest = url.substr(start + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

bool listener_on_loopback(const std::string& address) {
  const auto authority = parse_authority(address);
  return authority && is_loopback_host(authority->host);
}

bool loopback_authority(const Authority& authority) {
  return authority.host == "localhost" || authority.host == "[::1]" ||
         (authority.ip_literal && authority.host.rfind("127.", 0) == 0);
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

bool is_loopback_host(const std::string& raw) {
  if (raw.empty()) return false;
  const bool bare_ipv6 = raw.find(':') != std::string::npos && raw.front() != '[';
  const auto authority = parse_authority(bare_ipv6 ? "[" + raw + "]" : raw);
  return authority && loopback_authority(*authority);
}

bool OriginPolicy::origin_allowed(std::string_view raw) const {
  // Sandboxed frames, file: pages and some redirects send `null`: any page
  // can make a browser send it, so it is only accepted when listed.
  if (raw == "null") return null_origin;
  const auto origin = normalise_origin(raw);
  if (!origin) return false;
  if (any_origin) return true;
  if (std::find(origins.begin(), origins.end(), *origin) != origins.end()) return true;
  if (!loopback_origins) return false;
  const size_t separator = origin->find("://");
  const std::string_view scheme = std::string_view(*origin).substr(0, separator);
  if (scheme != "http" && scheme != "https") return false;
  const auto authority = parse_authority(std::string_view(*origin).substr(separator + 3));
  return authority && loopback_authority(*authority);
}

bool OriginPolicy::host_allowed(std::string_view host_header) const {
  const auto authority = parse_authority(host_header);
  if (!authority) return false;
  if (any_host) return true;
  return std::any_of(hosts.begin(), hosts.end(), [&](const Authority& allowed) {
    return allowed.host == authority->host &&
           (allowed.port.empty() || allowed.port == authority->port);
  });
}

OriginPolicy origin_policy_for(const config::Listener& listener, const config::Config& config) {
  OriginPolicy policy;
  const auto add_origin = [&policy](const std::string& origin) {
    if (origin == "*") policy.any_origin = true;
    if (origin == "null") policy.null_origin = true;
    if (auto normal = normalise_origin(origin)) policy.origins.push_back(std::move(*normal));
  };
  const auto add_host = [&policy](std::string_view host) {
    if (host == "*") policy.any_host = true;
    if (auto authority = parse_authority(host)) policy.hosts.push_back(std::move(*authority));
  };
  const auto& cors = config.cors.allowed_origins;
  const bool cors_any = std::find(cors.begin(), cors.end(), "*") != cors.end();
  if (!listener.allowed_origins.empty()) {
    for (const auto& origin : listener.allowed_origins) add_origin(origin);
  } else if (!cors_any) {
    for (const auto& origin : cors) add_origin(origin);
  } else {
    // Safe for local development: only pages served from this machine.
    policy.loopback_origins = true;
  }
  if (!listener.allowed_hosts.empty()) {
    for (const auto& host : listener.allowed_hosts) add_host(host);
  } else if (listener_on_loopback(listener.address)) {
    for (const char* host : {"localhost", "127.0.0.1", "[::1]"}) add_host(host);
    for (const auto& route : config.routes) add_host(url_authority(route.resource));
  } else {
    // A public listener sits behind names and proxies we cannot guess;
    // production configs list their host names (docs/authorization.md).
    policy.any_host = true;
  }
  return policy;
}

std::string jsonrpc_error_without_id(int code, const std::string& message) {
  JsonPtr error(json_pack("{s:i,s:s%}", "code", code, "message", message.data(), message.size()));
  JsonPtr doc(json_pack("{s:s,s:O}", "jsonrpc", "2.0", "error", error.get()));
  if (!doc) return "{}";
  char* text = json_dumps(doc.get(), JSON_COMPACT);
  std::string out = text ? text : "{}";
  free(text);
  return out;
}

}  // namespace mag::proxy
