#include "proxy/router/origin_policy.h"

#include <arpa/inet.h>
#include <jansson.h>

#include <algorithm>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"

namespace mag::proxy {
namespace {

using http::Authority;
using http::normalise_origin;
using http::parse_authority;

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

}  // namespace mag::proxy
