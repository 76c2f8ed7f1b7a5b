#include "proxy/mcp/identity_headers.h"

#include <cstdlib>
#include <memory>

#include "common/core/log.h"
#include "common/json/json_text.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/telemetry/metrics.h"

namespace mag::proxy {
namespace {

std::string dump(const json_t* value, size_t flags) {
  return json::to_json_string(value, flags | JSON_ENCODE_ANY).value_or("");
}

// The shortest of jansson's renderings (15..17 significant digits) that reads
// back as the same double: 0.1 stays "0.1", not "0.10000000000000001".
std::string real_text(const json_t* value) {
  std::string text;
  for (int precision = 15; precision <= 17; ++precision) {
    text = dump(value, JSON_COMPACT | JSON_REAL_PRECISION(precision));
    if (std::strtod(text.c_str(), nullptr) == json_real_value(value)) break;
  }
  return text;
}

ClaimRendering refused(std::string_view reason) {
  ClaimRendering r;
  r.status = ClaimRendering::Status::kRefused;
  r.reason = reason;
  return r;
}

}  // namespace

ClaimRendering render_claim(const json_t* payload, std::string_view claim) {
  const json_t* value =
      json_is_object(payload) ? json_object_getn(payload, claim.data(), claim.size()) : nullptr;
  ClaimRendering out;
  if (!value || json_is_null(value)) return out;
  if (json_is_string(value)) {
    const std::string_view text(json_string_value(value), json_string_length(value));
    if (text.empty()) return out;
    // RFC 9110 §5.5: no CTL (NUL, CR, LF, HTAB, DEL...) in a value we emit;
    // UTF-8 bytes (>= 0x80) pass as they are. Leading or trailing spaces
    // would be dropped by the upstream's parser: refused, not trimmed.
    for (unsigned char c : text) {
      if (c < 0x20 || c == 0x7f) return refused("control_character");
    }
    if (text.front() == ' ' || text.back() == ' ') return refused("edge_whitespace");
    out.value = text;
  } else if (json_is_true(value) || json_is_false(value)) {
    out.value = json_is_true(value) ? "true" : "false";
  } else if (json_is_integer(value)) {
    out.value = std::to_string(json_integer_value(value));
  } else if (json_is_real(value)) {
    out.value = real_text(value);
  } else {
    // Arrays and objects (aud, roles, ...) as Envoy's claim_to_headers sends
    // them: base64url (no padding) of the compact JSON, member order kept.
    out.value = auth::base64url_encode(dump(value, JSON_COMPACT));
  }
  if (out.value.size() > kMaxClaimHeaderBytes) return refused("too_long");
  out.status = ClaimRendering::Status::kOk;
  return out;
}

void strip_identity_headers(const config::Config& config, http::HeaderMap& headers) {
  for (const auto& name : config.identity_header_names) headers.remove(name);
}

void add_identity_headers(const config::Route& route, std::string_view token,
                          http::HeaderMap& headers) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return;
  const std::string_view segment = token.substr(first + 1, second - first - 1);
  // A verified token's payload segment is canonical base64url already.
  if (!route.forward_payload_header.empty()) {
    headers.set(route.forward_payload_header, std::string(segment));
  }
  if (route.claim_to_headers.empty()) return;
  const auto json = auth::base64url_decode(segment);
  const JsonPtr payload = json ? auth::parse_json_object(*json) : nullptr;
  if (!payload) return;
  for (const auto& mapping : route.claim_to_headers) {
    ClaimRendering rendered = render_claim(payload.get(), mapping.claim);
    if (rendered.status == ClaimRendering::Status::kOk) {
      headers.set(mapping.header, std::move(rendered.value));
    } else if (rendered.status == ClaimRendering::Status::kRefused) {
      // Neither the value nor the token: only which mapping and why.
      metrics::global().counter_add("mag_claim_headers_omitted_total",
                                    {{"route", route.path_prefix},
                                     {"claim", mapping.claim},
                                     {"reason", std::string(rendered.reason)}});
      // Rate-limited: one user's odd claim must not fill the log.
      log::limited(log::Level::kWarn, "authz claim_header", "authz",
                   "claim '" + log::sanitize(mapping.claim) + "' not sent as " + mapping.header +
                       " on route " + route.path_prefix + ": " + std::string(rendered.reason));
    }
  }
}

}  // namespace mag::proxy
