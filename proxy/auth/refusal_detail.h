// What the log says about a refused token: what came (the token's claims
// and header members, as received) and what the route accepts (issuer,
// audiences, algorithms, kids, clock skew...), for each verifier reason.
// For operators only: the 401 the client gets keeps its fixed
// reason_description().
//
// The token's header and payload are decoded again here without any
// signature check: their values are shown, never trusted. Every value that
// came from the token is rendered as quoted JSON (control characters and
// non-ASCII escaped) and bounded: strings to kMaxValueBytes, arrays to
// kMaxArrayItems. The token and its signature are never part of the text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <jansson.h>

#include "common/core/c_handles.h"
#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_verifier.h"

namespace mag::auth {

class RefusalDetail {
 public:
  // What the token was checked against: one provider of the route.
  struct Against {
    std::string_view provider;        // its name
    const VerifyPolicy& policy;       // policy_for(route, provider)
    std::string_view route_resource;  // the route's `resource` (one of policy.audiences)
    const KeySet* keys = nullptr;     // the provider's keys; null when it has none
  };
  static constexpr size_t kMaxValueBytes = 128;
  static constexpr size_t kMaxArrayItems = 8;

  // Decodes the header and payload of `token` when it has at most
  // `max_token_bytes` (a larger one is described by its size alone).
  RefusalDetail(std::string_view token, size_t max_token_bytes);

  // "iss \"https://a\" is not accepted (accepted: \"https://b\" from provider dev)".
  std::string describe(Reason reason, const Against& against, int64_t now_seconds) const;

  // A hostile JSON value as bounded, escaped JSON text.
  static std::string quote(const json_t* value);
  // A string (from the configuration or the JWKS) the same way.
  static std::string quote(std::string_view text);

 private:
  std::string malformed() const;
  std::string alg_not_allowed(const Against& against) const;
  std::string unsupported_header() const;
  std::string unknown_kid(const Against& against) const;
  std::string bad_signature(const Against& against) const;
  std::string wrong_audience(const Against& against) const;
  std::string time_claim(const char* name, const Against& against, int64_t now) const;
  std::string missing_claim(const Against& against) const;
  std::string invalid_claim() const;
  std::string wrong_token_type(const Against& against) const;
  std::string lifetime_too_long(const Against& against) const;
  std::string claim(const char* name) const;  // quote() of a payload member, or "(absent)"
  std::string header_member(const char* name) const;

  size_t token_bytes_ = 0;
  size_t segments_ = 0;
  bool decoded_ = false;  // within max_token_bytes, so header_ / payload_ were tried
  JsonPtr header_;        // null when not a base64url JSON object
  JsonPtr payload_;
};

}  // namespace mag::auth
