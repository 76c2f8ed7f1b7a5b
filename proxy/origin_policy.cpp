#include "proxy/origin_policy.h"

#include <jansson.h>

#include <algorithm>
#include <cctype>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"

namespace mag::proxy {
namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// "host:port" / "[v6]:port" / "host" → host (brackets kept for v6) and port ("" if none).
void split_authority(const std::string& authority, std::string* host, std::string* port) {
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      *host = authority;
      port->clear();
      return;
    }
    *host = authority.substr(0, close + 1);
    *port = close + 1 < authority.size() && authority[close + 1] == ':'
                ? authority.substr(close + 2)
                : "";
    return;
  }
  const size_t colon = authority.rfind(':');
  *host = colon == std::string::npos ? authority : authority.substr(0, colon);
  *port = colon == std::string::npos ? "" : authority.substr(colon + 1);
}

// The authority of an absolute URL ("https://h:1/x" → "h:1"), lowercase.
std::string url_authority(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return "";
  const size_t end = url.find_first_of("/?#", start + 3);
  return lowercase(
      url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3));
}

bool listener_on_loopback(const std::string& address) {
  std::string host, port;
  split_authority(address, &host, &port);
  return is_loopback_host(host);
}

}  // namespace

bool is_loopback_host(const std::string& raw) {
  std::string host = lowercase(raw);
  if (!host.empty() && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  return host.rfind("127.", 0) == 0 &&
         std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(c) || c == '.'; });
}

bool OriginPolicy::origin_allowed(std::string_view raw) const {
  if (any_origin) return true;
  const std::string origin = lowercase(std::string(raw));
  if (std::find(origins.begin(), origins.end(), origin) != origins.end()) return true;
  if (!loopback_origins) return false;
  std::string scheme_end = origin.rfind("http://", 0) == 0    ? "http://"
                           : origin.rfind("https://", 0) == 0 ? "https://"
                                                              : "";
  if (scheme_end.empty()) return false;
  const std::string authority = origin.substr(scheme_end.size());
  if (authority.find_first_of("/?#@") != std::string::npos) return false;
  std::string host, port;
  split_authority(authority, &host, &port);
  return is_loopback_host(host);
}

bool OriginPolicy::host_allowed(std::string_view host_header) const {
  if (any_host) return true;
  const std::string value = lowercase(std::string(host_header));
  std::string host, port;
  split_authority(value, &host, &port);
  for (const auto& allowed : hosts) {
    if (allowed == value || allowed == host) return true;
  }
  return false;
}

OriginPolicy origin_policy_for(const config::Listener& listener, const config::Config& config) {
  OriginPolicy policy;
  const auto& cors = config.cors.allowed_origins;
  const bool cors_any = std::find(cors.begin(), cors.end(), "*") != cors.end();
  if (!listener.allowed_origins.empty()) {
    for (const auto& origin : listener.allowed_origins) {
      if (origin == "*") policy.any_origin = true;
      policy.origins.push_back(lowercase(origin));
    }
  } else if (!cors_any) {
    for (const auto& origin : cors) policy.origins.push_back(lowercase(origin));
  } else {
    // Safe for local development: only pages served from this machine.
    policy.loopback_origins = true;
  }
  if (!listener.allowed_hosts.empty()) {
    for (const auto& host : listener.allowed_hosts) {
      if (host == "*") policy.any_host = true;
      policy.hosts.push_back(lowercase(host));
    }
  } else if (listener_on_loopback(listener.address)) {
    policy.hosts = {"localhost", "127.0.0.1", "[::1]"};
    for (const auto& route : config.routes) {
      if (!route.resource.empty()) policy.hosts.push_back(url_authority(route.resource));
    }
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
  return json::to_json_string(doc.get(), JSON_COMPACT).value_or("{}");
}

}  // namespace mag::proxy
