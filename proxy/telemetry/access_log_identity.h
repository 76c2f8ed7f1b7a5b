// How the access log shows who made a request — the token's `sub` and
// `client_id` — per `access_log.identity` (docs/operations.md):
// as is, as a keyed hash (HMAC-SHA-256, truncated), or not at all. The
// hash lets operators correlate the requests of one user or client without
// storing the identifier itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/config/config.h"

namespace mag::proxy {

enum class IdentityMode { kPlain, kHash, kOmit };

// "plain" / "hash" / "omit"; nullopt for anything else.
std::optional<IdentityMode> parse_identity_mode(std::string_view name);

// HMAC-SHA-256(key, value), first 16 bytes as 32 lower-case hex characters.
std::string identity_hash(std::string_view key, std::string_view value);

class AccessLogIdentity {
 public:
  AccessLogIdentity() = default;  // both fields plain
  AccessLogIdentity(IdentityMode subject, IdentityMode client_id, std::string key)
      : subject_(subject), client_id_(client_id), key_(std::move(key)) {}

  // From the config; the key is `identity_key`, or else this process's random
  // key (see process_key). False with a reason when no key can be made.
  static bool from_config(const config::AccessLog& config, AccessLogIdentity* out,
                          std::string* error);

  IdentityMode subject_mode() const { return subject_; }
  IdentityMode client_id_mode() const { return client_id_; }

  // What the log shows for a field: nullopt means "leave the field out".
  // An empty value (no token) stays empty in every mode but omit, so the
  // log still tells anonymous requests apart.
  std::optional<std::string> subject(std::string_view value) const {
    return render(subject_, value);
  }
  std::optional<std::string> client_id(std::string_view value) const {
    return render(client_id_, value);
  }

 private:
  std::optional<std::string> render(IdentityMode mode, std::string_view value) const;

  IdentityMode subject_ = IdentityMode::kPlain;
  IdentityMode client_id_ = IdentityMode::kPlain;
  std::string key_;  // HMAC key; empty when no field is hashed
};

}  // namespace mag::proxy
