#include "proxy/auth/jwt_compact.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>

namespace mag::auth {
namespace {

constexpr size_t kMaxKidBytes = 256;

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

struct AlgInfo {
  std::string_view name;
  std::string_view kty;
  std::string_view crv;
  size_t ecdsa_sig_bytes;
};
constexpr std::array<AlgInfo, 10> kAlgs = {{
    {"RS256", "RSA", "", 0},
    {"RS384", "RSA", "", 0},
    {"RS512", "RSA", "", 0},
    {"PS256", "RSA", "", 0},
    {"PS384", "RSA", "", 0},
    {"PS512", "RSA", "", 0},
    {"ES256", "EC", "P-256", 64},
    {"ES384", "EC", "P-384", 96},
    {"ES512", "EC", "P-521", 132},
    {"EdDSA", "OKP", "Ed25519", 0},  // RFC 8037; Ed448 is not supported
}};

const AlgInfo* find_alg(std::string_view alg) {
  for (const auto& a : kAlgs) {
    if (a.name == alg) return &a;
  }
  return nullptr;
}

// Header members we refuse outright: crit (we implement no extensions, RFC
// 7515 says MUST reject what we do not understand), b64 (RFC 7797 unencoded
// payloads), zip (JWE only; decompression bombs), and every member that
// would let the token choose its own key (jku, x5u, jwk, x5c).
constexpr std::array<const char*, 7> kRefusedHeaderMembers = {"crit", "b64", "zip", "jku",
                                                              "x5u",  "jwk", "x5c"};

// Splits exactly three segments (header and signature non-empty); stops scanning at a third dot so
// a token of 10 000 dots costs nothing.
bool split_three(std::string_view token, std::array<std::string_view, 3>* parts) {
  size_t start = 0;
  for (size_t i = 0; i < 2; ++i) {
    size_t dot = token.find('.', start);
    if (dot == std::string_view::npos) return false;
    (*parts)[i] = token.substr(start, dot - start);
    start = dot + 1;
  }
  (*parts)[2] = token.substr(start);
  if ((*parts)[2].find('.') != std::string_view::npos) return false;
  // An empty payload is a valid JWS (RFC 7515); it is never a JWT, whose
  // payload must be a JSON object, so verify_jwt rejects it later.
  return !(*parts)[0].empty() && !(*parts)[2].empty();
}

Reason check_header_members(json_t* header, CompactJws* out,
                            const std::vector<std::string>& allowed) {
  json_t* alg = json_object_get(header, "alg");
  if (!json_is_string(alg)) return Reason::kMalformed;
  out->alg.assign(json_string_value(alg), json_string_length(alg));
  if (!is_supported_jws_alg(out->alg) ||
      std::find(allowed.begin(), allowed.end(), out->alg) == allowed.end()) {
    return Reason::kAlgNotAllowed;
  }
  for (const char* member : kRefusedHeaderMembers) {
    if (json_object_get(header, member) != nullptr) return Reason::kUnsupportedHeader;
  }
  // A nested JWT (cty "JWT") would need a second verification we do not do.
  json_t* cty = json_object_get(header, "cty");
  if (cty != nullptr) {
    if (!json_is_string(cty)) return Reason::kMalformed;
    std::string value = json_string_value(cty);
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (value == "JWT") return Reason::kUnsupportedHeader;
  }
  json_t* kid = json_object_get(header, "kid");
  if (kid != nullptr) {
    if (!json_is_string(kid) || json_string_length(kid) > kMaxKidBytes) return Reason::kMalformed;
    out->kid.assign(json_string_value(kid), json_string_length(kid));
    out->has_kid = true;
  }
  return Reason::kOk;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1 || in.size() > INT_MAX / 2) return std::nullopt;
  // One pass: refuse anything outside the url-safe alphabet, translate to
  // the standard one and pad for EVP_DecodeBlock.
  const size_t pad = (4 - in.size() % 4) % 4;
  std::string padded(in.size() + pad, '=');
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (!is_base64url_char(c)) return std::nullopt;
    padded[i] = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  std::string out(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()),
                                static_cast<int>(padded.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  // Canonical form only (Wycheproof tc374/375): a full group of four
  // characters has exactly one encoding, so only a final partial group can
  // carry non-zero unused bits; re-encoding its 1 or 2 bytes must give back
  // its 2 or 3 characters exactly.
  if (pad != 0) {
    const size_t tail_bytes = 3 - pad;
    const size_t tail_chars = 4 - pad;
    if (base64url_encode(std::string_view(out).substr(out.size() - tail_bytes)) !=
        in.substr(in.size() - tail_chars))
      return std::nullopt;
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out = base64_encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

bool is_supported_jws_alg(std::string_view alg) {
  return find_alg(alg) != nullptr;
}

size_t ecdsa_signature_bytes(std::string_view alg) {
  const AlgInfo* a = find_alg(alg);
  return a ? a->ecdsa_sig_bytes : 0;
}

std::string_view kty_for_alg(std::string_view alg) {
  const AlgInfo* a = find_alg(alg);
  return a ? a->kty : std::string_view();
}

std::string_view curve_for_alg(std::string_view alg) {
  const AlgInfo* a = find_alg(alg);
  return a ? a->crv : std::string_view();
}

JsonPtr parse_json_object(std::string_view text) {
  json_error_t error;
  JsonPtr json(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &error));
  if (!json_is_object(json.get())) return nullptr;
  return json;
}

Reason parse_compact_jws(std::string_view token, size_t max_token_bytes,
                         const std::vector<std::string>& allowed_algs, CompactJws* out) {
  if (token.size() > max_token_bytes) return Reason::kTooLarge;
  std::array<std::string_view, 3> parts;
  if (!split_three(token, &parts)) return Reason::kMalformed;

  auto header_bytes = base64url_decode(parts[0]);
  auto payload = base64url_decode(parts[1]);
  auto signature = base64url_decode(parts[2]);
  if (!header_bytes || !payload || !signature) return Reason::kMalformed;

  JsonPtr header = parse_json_object(*header_bytes);
  if (!header) return Reason::kMalformed;
  if (Reason r = check_header_members(header.get(), out, allowed_algs); r != Reason::kOk) return r;

  const size_t ec_len = ecdsa_signature_bytes(out->alg);
  if (ec_len != 0 && signature->size() != ec_len) return Reason::kBadSignature;

  out->signing_input = token.substr(0, parts[0].size() + 1 + parts[1].size());
  out->header = std::move(header);
  out->payload = std::move(*payload);
  out->signature = std::move(*signature);
  return Reason::kOk;
}

}  // namespace mag::auth
