#include "proxy/tools/dev_token.h"

#include <cjose/cjose.h>
#include <openssl/rand.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/json/json_text.h"
#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_compact.h"

namespace mag::auth {
namespace {

constexpr size_t kMaxKeyFileBytes = 64 * 1024;

struct CjoseFree {
  void operator()(char* p) const noexcept { cjose_get_dealloc()(p); }
};
struct HeaderDeleter {
  void operator()(cjose_header_t* h) const noexcept { cjose_header_release(h); }
};
struct JwsDeleter {
  void operator()(cjose_jws_t* j) const noexcept { cjose_jws_release(j); }
};

std::string dump(json_t* json) {
  return json::to_json_string(json, JSON_COMPACT).value_or("");
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    return {};
  std::string hex;
  char buf[3];
  for (unsigned char c : raw) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    hex += buf;
  }
  return hex;
}

bool read_small_file(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open key file " + path;
    return false;
  }
  std::string text(kMaxKeyFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxKeyFileBytes) {
    *error = "key file is larger than 64 KiB";
    return false;
  }
  *out = std::move(text);
  return true;
}

// The claims of a dev token; iat/nbf now, exp now + ttl.
JsonPtr build_payload(const DevTokenRequest& r, int64_t now) {
  JsonPtr payload(json_object());
  json_object_set_new(payload.get(), "iss", json_string(r.issuer.c_str()));
  json_object_set_new(payload.get(), "aud", json_string(r.audience.c_str()));
  if (!r.subject.empty()) json_object_set_new(payload.get(), "sub", json_string(r.subject.c_str()));
  if (!r.client_id.empty())
    json_object_set_new(payload.get(), "client_id", json_string(r.client_id.c_str()));
  if (!r.scopes.empty()) json_object_set_new(payload.get(), "scope", json_string(r.scopes.c_str()));
  json_object_set_new(payload.get(), "iat", json_integer(now));
  json_object_set_new(payload.get(), "nbf", json_integer(now));
  json_object_set_new(payload.get(), "exp", json_integer(now + r.ttl_seconds));
  json_object_set_new(payload.get(), "jti", json_string(random_hex(16).c_str()));
  return payload;
}

std::string check_request(const DevTokenRequest& r) {
  if (r.issuer.empty()) return "issuer is required";
  if (r.audience.empty()) return "audience is required";
  if (r.ttl_seconds <= 0 || r.ttl_seconds > 366 * 24 * 3600) return "ttl must be 1s..366d";
  return {};
}

std::string sign(cjose_jwk_t* jwk, const std::string& kid, const std::string& payload,
                 std::string* error) {
  cjose_err err{};
  std::unique_ptr<cjose_header_t, HeaderDeleter> header(cjose_header_new(&err));
  if (!header || !cjose_header_set(header.get(), CJOSE_HDR_ALG, CJOSE_HDR_ALG_RS256, &err) ||
      !cjose_header_set(header.get(), "typ", "at+jwt", &err) ||
      (!kid.empty() && !cjose_header_set(header.get(), CJOSE_HDR_KID, kid.c_str(), &err))) {
    *error = "cannot build the JWS header";
    return {};
  }
  std::unique_ptr<cjose_jws_t, JwsDeleter> jws(cjose_jws_sign(
      jwk, header.get(), reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &err));
  const char* compact = nullptr;
  if (!jws || !cjose_jws_export(jws.get(), &compact, &err) || compact == nullptr) {
    *error = std::string("signing failed: ") + (err.message ? err.message : "?");
    return {};
  }
  return compact;
}

}  // namespace

std::string mint_dev_token_with_jwk(const std::string& private_jwk_json,
                                    const DevTokenRequest& request, std::string* error) {
  if (std::string why = check_request(request); !why.empty()) {
    *error = why;
    return {};
  }
  JsonPtr jwk_json = parse_json_object(private_jwk_json);
  json_t* kty = jwk_json ? json_object_get(jwk_json.get(), "kty") : nullptr;
  if (!json_is_string(kty) || std::string_view(json_string_value(kty)) != "RSA" ||
      !json_is_string(json_object_get(jwk_json.get(), "d"))) {
    *error = "the key is not a private RSA JWK";
    return {};
  }
  json_t* alg = json_object_get(jwk_json.get(), "alg");
  if (alg != nullptr &&
      !(json_is_string(alg) && std::string_view(json_string_value(alg)) == "RS256")) {
    *error = "the key's alg is not RS256";
    return {};
  }
  cjose_err err{};
  JwkPtr jwk(cjose_jwk_import(private_jwk_json.data(), private_jwk_json.size(), &err));
  if (!jwk || cjose_jwk_get_keysize(jwk.get(), &err) < kMinRsaBits) {
    *error = "the key could not be imported or is under 2048 bits";
    return {};
  }
  std::string kid = request.kid;
  if (json_t* k = json_object_get(jwk_json.get(), "kid"); kid.empty() && json_is_string(k))
    kid = json_string_value(k);
  const int64_t now =
      request.now_seconds != 0 ? request.now_seconds : static_cast<int64_t>(std::time(nullptr));
  JsonPtr payload = build_payload(request, now);
  return sign(jwk.get(), kid, dump(payload.get()), error);
}

std::string mint_dev_token(const DevTokenRequest& request, std::string* error) {
  std::string text;
  if (!read_small_file(request.key_file, &text, error)) return {};
  return mint_dev_token_with_jwk(text, request, error);
}

GeneratedKey generate_rsa_jwk(const std::string& kid) {
  static const uint8_t kExponent[] = {0x01, 0x00, 0x01};
  cjose_err err{};
  JwkPtr jwk(cjose_jwk_create_RSA_random(2048, kExponent, sizeof kExponent, &err));
  if (!jwk || !cjose_jwk_set_kid(jwk.get(), kid.c_str(), kid.size(), &err)) return {};
  std::unique_ptr<char, CjoseFree> priv(cjose_jwk_to_json(jwk.get(), true, &err));
  std::unique_ptr<char, CjoseFree> pub(cjose_jwk_to_json(jwk.get(), false, &err));
  if (!priv || !pub) return {};
  JsonPtr priv_json = parse_json_object(priv.get());
  JsonPtr pub_json = parse_json_object(pub.get());
  if (!priv_json || !pub_json) return {};
  for (json_t* j : {priv_json.get(), pub_json.get()}) {
    json_object_set_new(j, "alg", json_string("RS256"));
    json_object_set_new(j, "use", json_string("sig"));
  }
  JsonPtr jwks(json_pack("{s:[O]}", "keys", pub_json.get()));
  GeneratedKey out;
  out.private_jwk = dump(priv_json.get());
  out.public_jwks = dump(jwks.get());
  return out;
}

int64_t parse_ttl_seconds(const std::string& text) {
  if (text.empty() || text.size() > 12) return -1;
  int64_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's':
      unit = 1, digits.pop_back();
      break;
    case 'm':
      unit = 60, digits.pop_back();
      break;
    case 'h':
      unit = 3600, digits.pop_back();
      break;
    case 'd':
      unit = 86400, digits.pop_back();
      break;
    default:
      break;
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  const int64_t value = std::stoll(digits);  // <= 11 digits: cannot overflow
  return value > 0 ? value * unit : -1;
}

}  // namespace mag::auth
