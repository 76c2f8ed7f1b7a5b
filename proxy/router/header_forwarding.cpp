#include "proxy/router/header_forwarding.h"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/http/hop_by_hop.h"

namespace mag::proxy {
namespace {

constexpr const auto& kHopByHop = http::kHopByHopFields;

// Fields a client must not be able to set for the upstream: the gateway
// derives them itself (or, for credentials, never forwards them).
constexpr std::array<std::string_view, 8> kClientMayNotSet = {
    "authorization",     "expect",           "forwarded", "x-forwarded-for",
    "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "host"};

std::vector<std::string> connection_listed(const http::HeaderMap& headers) {
  std::vector<std::string> names;
  for (const auto& field : headers) {
    if (!http::iequals(field.name, "connection")) continue;
    std::string_view v = field.value;
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty()) names.emplace_back(item);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return names;
}

}  // namespace

void remove_hop_by_hop(http::HeaderMap& headers) {
  for (const auto& name : connection_listed(headers)) headers.remove(name);
  for (auto name : kHopByHop) headers.remove(name);
}

namespace {

bool listed(std::string_view name, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (http::iequals(name, n)) return true;
  }
  return false;
}

bool listed(std::string_view name, std::span<const config::CredentialHeader> credentials) {
  for (const auto& credential : credentials) {
    if (http::iequals(name, credential.name)) return true;
  }
  return false;
}

template <size_t N>
bool listed(std::string_view name, const std::array<std::string_view, N>& names) {
  for (auto n : names) {
    if (http::iequals(name, n)) return true;
  }
  return false;
}

}  // namespace

http::RequestHead make_upstream_request(const http::RequestHead& downstream,
                                        const ForwardContext& context) {
  http::RequestHead up;
  up.method = downstream.method;
  if (context.upstream_path.empty()) {
    up.target = downstream.target;
    up.path = downstream.path;
  } else {
    up.path = context.upstream_path;
    up.target = context.upstream_path;
    up.target.append(std::string_view(downstream.target).substr(downstream.path.size()));
  }
  up.query = downstream.query;
  up.version_minor = 1;
  // One filtered copy: fields that must not go upstream,
  // among them the ~1 KiB Authorization, are never copied, rather than
  // copied and then removed by one pass per name.
  const std::vector<std::string> connection_names = connection_listed(downstream.headers);
  const bool replace_request_id = !context.request_id.empty();
  auto forwarded = [&](const http::Header& field) {
    return field.name.find('_') == std::string_view::npos && !listed(field.name, kHopByHop) &&
           !listed(field.name, kClientMayNotSet) && !listed(field.name, connection_names) &&
           !(replace_request_id && http::iequals(field.name, "x-request-id")) &&
           !listed(field.name, context.credentials);
  };
  // Sized exactly once for the kept fields and the ones added below, so
  // the copy allocates one storage string and one field vector (a long
  // SSE stream holds this head: no slack). The first pass remembers its
  // verdicts for the first 64 fields, so the second does not decide again.
  size_t fields = 5 + context.credentials.size();
  size_t bytes =
      64 + context.upstream_host.size() + context.peer_address.size() + context.request_id.size();
  for (const auto& credential : context.credentials) {
    bytes += credential.name.size() + credential.value.size();
  }
  uint64_t dropped = 0;  // bit i: field i is not forwarded (i < 64)
  size_t index = 0;
  for (const auto& field : downstream.headers) {
    const bool keep = forwarded(field);
    if (keep) {
      ++fields;
      bytes += field.name.size() + field.value.size();
    } else if (index < 64) {
      dropped |= uint64_t{1} << index;
    }
    ++index;
  }
  if (const std::string_view* host = downstream.headers.get("host")) bytes += host->size();
  up.headers.reserve(fields, bytes);
  index = 0;
  for (const auto& field : downstream.headers) {
    const bool keep = index < 64 ? ((dropped >> index) & 1) == 0 : forwarded(field);
    ++index;
    if (keep) up.headers.add(field.name, field.value);
  }

  up.headers.add("Host", context.upstream_host);
  up.headers.add("X-Forwarded-For", context.peer_address);
  up.headers.add("X-Forwarded-Proto", context.tls ? "https" : "http");
  if (const std::string_view* host = downstream.headers.get("host")) {
    up.headers.add("X-Forwarded-Host", *host);
  }
  if (replace_request_id) up.headers.add("X-Request-Id", context.request_id);
  for (const auto& credential : context.credentials) {
    up.headers.add(credential.name, credential.value);
  }
  return up;
}

void filter_upstream_response(http::ResponseHead& head) {
  remove_hop_by_hop(head.headers);
}

}  // namespace mag::proxy
