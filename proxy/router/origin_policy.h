// DNS-rebinding protection per listener (MCP transports "Security Warning"):
// a present Origin must be allowed (else 403 with a JSON-RPC error body
// without id), and the Host must be one the listener serves (else 421).
// Browsers always send Origin on cross-origin requests; non-browser clients
// usually send none, and a missing Origin is allowed.
//
// Both values are parsed strictly (RFC 3986 authority, RFC 6454 origin)
// before any comparison; a value that does not parse is refused, whatever
// the allow-list says (docs/authorization.md, "Origin and Host").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/uri_authority.h"
#include "proxy/config/config.h"

namespace mag::proxy {

struct OriginPolicy {
  bool any_origin = false;             // any well-formed origin
  bool null_origin = false;            // `Origin: null`, only when listed as "null"
  std::vector<std::string> origins;    // normalise_origin() forms
  bool loopback_origins = false;       // http(s)://localhost|127.x.y.z|[::1] with any port
  bool any_host = false;               // any well-formed Host
  std::vector<http::Authority> hosts;  // an entry without port matches any port

  bool origin_allowed(std::string_view origin) const;
  bool host_allowed(std::string_view host_header) const;
};

// The effective policy of `listener` under `config` (the documented defaults
// when the listener lists nothing).
OriginPolicy origin_policy_for(const config::Listener& listener, const config::Config& config);

// True for localhost, 127.0.0.0/8 (strict dotted-quad) and ::1 (brackets
// optional), port ignored.
bool is_loopback_host(const std::string& host);

}  // namespace mag::proxy
