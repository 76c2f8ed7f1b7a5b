// The header fields that describe one connection rather than the message
// (RFC 9110 §7.6.1): a proxy consumes them and never forwards them.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace mag::http {

// Lower case. The order matters: the first four are the framing an HTTP/1.1
// server writes itself, the first six are the connection-specific fields
// that never appear in an HTTP/2 message (RFC 9113 §8.2.2).
inline constexpr std::array<std::string_view, 9> kHopByHopFields = {
    "connection", "keep-alive", "proxy-connection",    "transfer-encoding", "upgrade",
    "te",         "trailer",    "proxy-authorization", "proxy-authenticate"};

// Set by the HTTP/1.1 connection from its own framing, whatever a response carries.
inline constexpr std::span<const std::string_view> kServerFramingFields =
    std::span(kHopByHopFields).first<4>();

// Never sent in an HTTP/2 message.
inline constexpr std::span<const std::string_view> kHttp2ConnectionFields =
    std::span(kHopByHopFields).first<6>();

}  // namespace mag::http
