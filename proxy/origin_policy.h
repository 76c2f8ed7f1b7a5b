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

#include "proxy/config.h"

namespace mag::proxy {

// host [":" port], normalised: host lowercase, one trailing dot removed, an
// IPv6 literal in brackets and in its canonical text form (RFC 5952).
struct Authority {
  std::string host;
  std::string port;  // digits without leading zeros, 1-65535; empty if none
  bool ip_literal = false;

  std::string text() const { return port.empty() ? host : host + ":" + port; }
};

// Strict RFC 3986 authority without userinfo: `[IPv6]`, a dotted-quad IPv4
// address (four decimal octets 0-255, no leading zeros) or a host name of
// letters, digits, '-' and '.' (no empty label); then nothing but an
// optional ":port". A name whose last label is numeric or hexadecimal
// (`127.1`, `0x7f.0.0.1`) must be a dotted-quad. nullopt = malformed.
std::optional<Authority> parse_authority(std::string_view text);

// An origin (RFC 6454 serialisation): scheme "://" authority, nothing
// after; the scheme lowercase, a default port (80 for http, 443 for https)
// dropped. Returns the normalised text, or nullopt when malformed. `null`
// is not parsed here (see OriginPolicy::origin_allowed).
std::optional<std::string> normalise_origin(std::string_view text);

struct OriginPolicy {
  bool any_origin = false;           // any well-formed origin
  bool null_origin = false;          // `Origin: null`, only when listed as "null"
  std::vector<std::string> origins;  // normalise_origin() forms
  bool loopback_origins = false;     // http(s)://localhost|127.x.y.z|[::1] with any port
  bool any_host = false;             // any well-formed Host
  std::vector<Authority> hosts;      // an entry without port matches any port

  bool origin_allowed(std::string_view origin) const;
  bool host_allowed(std::string_view host_header) const;
};

// The effective policy of `listener` under `config` (the documented defaults
// when the listener lists nothing).
OriginPolicy origin_policy_for(const config::Listener& listener, const config::Config& config);

// True for localhost, 127.0.0.0/8 (strict dotted-quad) and ::1 (brackets
// optional), port ignored.
bool is_loopback_host(const std::string& host);

// `{"jsonrpc":"2.0","error":{"code":code,"message":message}}`: the JSON-RPC
// error body without id that the 2025-11-25 transport asks for.
std::string jsonrpc_error_without_id(int code, const std::string& message);

}  // namespace mag::proxy
