#include "proxy/auth/jwks.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

#include "common/json/json_text.h"
#include "proxy/auth/jws_signature.h"
#include "proxy/auth/jwt_compact.h"

namespace mag::auth {
namespace {

// Why a key cannot be used; empty when it can.
using SkipReason = std::string;

std::string string_member(json_t* obj, const char* name, bool* present, bool* is_string) {
  json_t* v = json_object_get(obj, name);
  *present = v != nullptr;
  *is_string = json_is_string(v);
  return *is_string ? std::string(json_string_value(v), json_string_length(v)) : std::string();
}

size_t bit_length(std::string_view big_endian) {
  size_t i = 0;
  while (i < big_endian.size() && big_endian[i] == '\0') ++i;
  if (i == big_endian.size()) return 0;
  size_t bits = (big_endian.size() - i - 1) * 8;
  for (auto top = static_cast<unsigned char>(big_endian[i]); top != 0; top >>= 1) ++bits;
  return bits;
}

SkipReason check_use_and_ops(json_t* jwk) {
  json_t* use = json_object_get(jwk, "use");
  if (use != nullptr && !(json_is_string(use) && std::string_view(json_string_value(use)) == "sig"))
    return "use is not \"sig\"";
  json_t* ops = json_object_get(jwk, "key_ops");
  if (ops == nullptr) return {};
  if (!json_is_array(ops)) return "key_ops is not an array";
  size_t i;
  json_t* op;
  bool verify = false;
  json_array_foreach(ops, i, op) {
    if (!json_is_string(op)) return "key_ops has a non-string member";
    if (std::string_view(json_string_value(op)) == "verify") verify = true;
  }
  return verify ? SkipReason() : SkipReason("key_ops lacks \"verify\"");
}

// The JWK alg, when present, pins the key to one algorithm: it must be one we
// support and belong to the key's type (and curve).
SkipReason check_alg(const std::string& alg, const std::string& kty, const std::string& crv) {
  if (alg.empty()) return {};
  if (!is_supported_jws_alg(alg)) return "unsupported alg '" + alg + "'";
  if (kty_for_alg(alg) != kty) return "alg '" + alg + "' does not fit kty " + kty;
  if ((kty == "EC" || kty == "OKP") && curve_for_alg(alg) != crv)
    return "alg '" + alg + "' does not fit curve " + crv;
  return {};
}

// Decodes a required base64url member strictly: cjose's own decoder aborts
// the process on some malformed input, so it must only see canonical text.
std::optional<std::string> decoded_member(json_t* jwk, const char* name) {
  json_t* v = json_object_get(jwk, name);
  if (!json_is_string(v)) return std::nullopt;
  return base64url_decode(std::string_view(json_string_value(v), json_string_length(v)));
}

SkipReason rsa_material(json_t* jwk, JsonPtr* minimal, size_t* bits, EvpPkeyPtr* pkey) {
  auto n = decoded_member(jwk, "n");
  auto e = decoded_member(jwk, "e");
  if (!n || !e) return "RSA n/e missing or not canonical base64url";
  *bits = bit_length(*n);
  if (*bits < kMinRsaBits) return "RSA key under 2048 bits";
  if (*bits > kMaxRsaBits) return "RSA key over 8192 bits";
  std::string_view ev(*e);
  while (!ev.empty() && ev.front() == '\0') ev.remove_prefix(1);
  if (ev != std::string_view("\x01\x00\x01", 3)) return "RSA exponent is not 65537";
  *pkey = rsa_public_key(*n, *e);
  if (!*pkey) return "RSA key rejected by OpenSSL";
  minimal->reset(json_pack(
      "{s:s, s:s%, s:s%}", "kty", "RSA", "n", json_string_value(json_object_get(jwk, "n")),
      json_string_length(json_object_get(jwk, "n")), "e",
      json_string_value(json_object_get(jwk, "e")), json_string_length(json_object_get(jwk, "e"))));
  return {};
}

SkipReason ec_material(json_t* jwk, const std::string& crv, JsonPtr* minimal, size_t* bits,
                       EvpPkeyPtr* pkey) {
  size_t coord_bytes = 0;
  if (crv == "P-256") {
    coord_bytes = 32, *bits = 256;
  } else if (crv == "P-384") {
    coord_bytes = 48, *bits = 384;
  } else if (crv == "P-521") {
    coord_bytes = 66, *bits = 521;
  } else {
    return "unsupported EC curve '" + crv + "'";
  }
  auto x = decoded_member(jwk, "x");
  auto y = decoded_member(jwk, "y");
  if (!x || !y) return "EC x/y missing or not canonical base64url";
  // RFC 7518 §6.2.1.2: coordinates are full-length octet strings.
  if (x->size() != coord_bytes || y->size() != coord_bytes) return "EC coordinate length wrong";
  *pkey = ec_public_key(crv, *x, *y);
  if (!*pkey) return "EC point rejected by OpenSSL (not on the curve?)";
  minimal->reset(json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", crv.c_str(), "x",
                           json_string_value(json_object_get(jwk, "x")), "y",
                           json_string_value(json_object_get(jwk, "y"))));
  return {};
}

// RFC 8037 Ed25519 public key. cjose 0.6.2.1 has no OKP support, so these
// keys only get an OpenSSL key.
SkipReason okp_material(json_t* jwk, const std::string& crv, JsonPtr* minimal, size_t* bits,
                        EvpPkeyPtr* pkey) {
  if (crv != "Ed25519") return "unsupported OKP curve '" + crv + "'";
  auto x = decoded_member(jwk, "x");
  if (!x || x->size() != 32) return "Ed25519 x missing, not canonical base64url or not 32 bytes";
  *bits = 256;
  *pkey = ed25519_public_key(*x);
  if (!*pkey) return "Ed25519 key rejected by OpenSSL";
  minimal->reset(json_pack("{s:s, s:s, s:s}", "crv", "Ed25519", "kty", "OKP", "x",
                           json_string_value(json_object_get(jwk, "x"))));
  return {};
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Builds a VerificationKey, or says why this JWK is not usable.
SkipReason import_key(json_t* jwk, VerificationKey* key) {
  if (!json_is_object(jwk)) return "not an object";
  bool present, is_string;
  key->kty = string_member(jwk, "kty", &present, &is_string);
  if (!is_string) return "kty missing or not a string";
  key->kid = string_member(jwk, "kid", &present, &is_string);
  if (present && !is_string) return "kid is not a string";
  key->alg = string_member(jwk, "alg", &present, &is_string);
  if (present && !is_string) return "alg is not a string";
  key->crv = string_member(jwk, "crv", &present, &is_string);
  if (present && !is_string) return "crv is not a string";

  if (key->kty == "oct") return "symmetric (oct) key: never accepted from a JWKS";
  if (key->kty != "RSA" && key->kty != "EC" && key->kty != "OKP")
    return "unsupported kty '" + key->kty + "'";
  if (SkipReason r = check_use_and_ops(jwk); !r.empty()) return r;
  if (SkipReason r = check_alg(key->alg, key->kty, key->crv); !r.empty()) return r;

  // Only public members go to cjose: private material in a published JWKS is
  // a mistake we do not want to keep in memory.
  JsonPtr minimal;
  SkipReason r;
  if (key->kty == "RSA") {
    r = rsa_material(jwk, &minimal, &key->key_bits, &key->pkey);
  } else if (key->kty == "EC") {
    r = ec_material(jwk, key->crv, &minimal, &key->key_bits, &key->pkey);
  } else {
    r = okp_material(jwk, key->crv, &minimal, &key->key_bits, &key->pkey);
  }
  if (!r.empty()) return r;
  if (!minimal) return "out of memory";
  const auto text = json::to_json_string(minimal.get(), JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) return "out of memory";
  const std::string& canonical = *text;
  // RFC 7638 thumbprint input (required members, sorted, no whitespace).
  key->fingerprint = hex(sha256(canonical));
  if (key->kty == "OKP") return {};
  cjose_err err{};
  key->jwk.reset(cjose_jwk_import(canonical.data(), canonical.size(), &err));
  if (!key->jwk) return std::string("key rejected by cjose: ") + (err.message ? err.message : "?");
  const cjose_jwk_kty_t kty = cjose_jwk_get_kty(key->jwk.get(), &err);
  if ((key->kty == "RSA") != (kty == CJOSE_JWK_KTY_RSA)) return "key type mismatch after import";
  return {};
}

// For log lines: the kid comes from a remote document, so keep it short and
// printable.
std::string describe(const VerificationKey& key, size_t index) {
  std::string label = "key #" + std::to_string(index);
  if (key.kid.empty()) return label;
  std::string kid;
  for (char c : key.kid.substr(0, 64)) kid += (c >= 0x20 && c < 0x7f) ? c : '?';
  return label + " (kid '" + kid + "')";
}

}  // namespace

std::vector<const VerificationKey*> KeySet::find(const std::string& kid) const {
  std::vector<const VerificationKey*> out;
  for (const auto& k : keys_) {
    if (kid.empty() || k.kid.empty() || k.kid == kid) out.push_back(&k);
  }
  return out;
}

JwksParseResult parse_jwks(const std::string& document) {
  JwksParseResult result;
  if (document.size() > kMaxJwksBytes) {
    result.error = "JWKS larger than 1 MiB";
    return result;
  }
  json_error_t jerr;
  JsonPtr root(json_loadb(document.data(), document.size(), JSON_REJECT_DUPLICATES, &jerr));
  if (!root) {
    result.error = std::string("JWKS is not valid JSON: ") + jerr.text;
    return result;
  }
  json_t* keys = json_object_get(root.get(), "keys");
  if (!json_is_object(root.get()) || !json_is_array(keys)) {
    result.error = "JWKS is not an object with a \"keys\" array";
    return result;
  }
  if (json_array_size(keys) > kMaxJwksKeys) {
    result.error = "JWKS has more than 100 keys";
    return result;
  }
  auto set = std::make_shared<KeySet>();
  std::set<std::string> kids;
  size_t i;
  json_t* jwk;
  json_array_foreach(keys, i, jwk) {
    VerificationKey key;
    if (SkipReason why = import_key(jwk, &key); !why.empty()) {
      set->skipped.push_back(describe(key, i) + ": " + why);
      continue;
    }
    if (!key.kid.empty() && !kids.insert(key.kid).second) {
      result.error = "JWKS has duplicate kid '" + key.kid + "'";
      return result;
    }
    set->mutable_keys().push_back(std::move(key));
  }
  if (set->keys().empty()) {
    result.error = "JWKS has no usable key";
    for (const auto& s : set->skipped) result.error += "; " + s;
    return result;
  }
  result.keys = std::move(set);
  return result;
}

}  // namespace mag::auth
