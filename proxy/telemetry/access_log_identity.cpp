#include "proxy/telemetry/access_log_identity.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace mag::proxy {
namespace {

constexpr size_t kProcessKeyBytes = 32;  // the SHA-256 block-size guidance: ≥ output size
constexpr size_t kHashBytes = 16;        // 128 bits: collisions are not a concern for a log

// One random key per process, made on first use: the hashes stay the same
// across config reloads (which reopen the log) but not across restarts or
// between replicas — set `identity_key` for that. Empty if the RNG fails.
const std::string& process_key() {
  static const std::string key = [] {
    std::string bytes(kProcessKeyBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()),
                   static_cast<int>(bytes.size())) != 1) {
      return std::string();
    }
    return bytes;
  }();
  return key;
}

}  // namespace

std::optional<IdentityMode> parse_identity_mode(std::string_view name) {
  if (name == "plain") return IdentityMode::kPlain;
  if (name == "hash") return IdentityMode::kHash;
  if (name == "omit") return IdentityMode::kOmit;
  return std::nullopt;
}

std::string identity_hash(std::string_view key, std::string_view value) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &length) ||
      length < kHashBytes) {
    // Never fall back to the value itself.
    return "hash-error";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < kHashBytes; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

bool AccessLogIdentity::from_config(const config::AccessLog& config, AccessLogIdentity* out,
                                    std::string* error) {
  // The loader has validated the names; plain is the fallback only in theory.
  const IdentityMode subject =
      parse_identity_mode(config.identity_sub).value_or(IdentityMode::kPlain);
  const IdentityMode client_id =
      parse_identity_mode(config.identity_client_id).value_or(IdentityMode::kPlain);
  std::string key;
  if (subject == IdentityMode::kHash || client_id == IdentityMode::kHash) {
    key = config.identity_key.empty() ? process_key() : config.identity_key;
    if (key.empty()) {
      *error = "access_log.identity: hash: no random key (OpenSSL RAND_bytes failed)";
      return false;
    }
  }
  *out = AccessLogIdentity(subject, client_id, std::move(key));
  return true;
}

std::optional<std::string> AccessLogIdentity::render(IdentityMode mode,
                                                     std::string_view value) const {
  switch (mode) {
    case IdentityMode::kOmit:
      return std::nullopt;
    case IdentityMode::kHash:
      return value.empty() ? std::string() : identity_hash(key_, value);
    case IdentityMode::kPlain:
      break;
  }
  return std::string(value);
}

}  // namespace mag::proxy
