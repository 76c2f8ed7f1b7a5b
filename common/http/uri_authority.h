// Strict parsing of the authority part of a URI (RFC 3986 §3.2) and of a
// web origin (RFC 6454): the Host and Origin values of requests and the
// allow-lists in the configuration are read by the same grammar, so that
// nothing the loader accepts is unreachable and nothing malformed matches.
// Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mag::http {

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

}  // namespace mag::http
