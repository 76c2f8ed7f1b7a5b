#include "proxy/identity_headers.h"

#include <string>

namespace mag::proxy {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

// Header values: visible ASCII and spaces only; anything else becomes '?'.
std::string header_safe(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

std::string claim_value(const std::string& claim, const auth::Claims& claims) {
  if (claim == "iss") return claims.issuer;
  if (claim == "sub") return claims.subject;
  if (claim == "client_id") return claims.client_id;
  if (claim == "aud") return join(claims.audiences);
  if (claim == "scope") return join(claims.scopes);
  if (claim == "exp") return claims.expires_at ? std::to_string(claims.expires_at) : "";
  return "";
}

}  // namespace

void strip_identity_headers(const config::Route& route, http::HeaderMap& headers) {
  for (const auto& mapping : route.claim_to_headers) headers.remove(mapping.header);
  if (!route.forward_payload_header.empty()) headers.remove(route.forward_payload_header);
}

void add_identity_headers(const config::Route& route, const auth::Claims& claims,
                          std::string_view token, http::HeaderMap& headers) {
  for (const auto& mapping : route.claim_to_headers) {
    const std::string value = header_safe(claim_value(mapping.claim, claims));
    if (!value.empty()) headers.set(mapping.header, value);
  }
  if (route.forward_payload_header.empty()) return;
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return;
  headers.set(route.forward_payload_header,
              header_safe(token.substr(first + 1, second - first - 1)));
}

}  // namespace mag::proxy
