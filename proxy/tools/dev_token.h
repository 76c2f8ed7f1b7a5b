// DEVELOPMENT ONLY: mint RS256 access tokens with a local private key, so the
// gateway can be tried without an identity provider
// (`mcp-auth-gateway dev-token ...`). Production gateways only verify.
#pragma once

#include <cstdint>
#include <string>

namespace mag::auth {

struct DevTokenRequest {
  std::string key_file;  // private RSA JWK (JSON), e.g. config/dev/dev-signing-key.jwk.json
  std::string issuer;    // `iss`
  std::string audience;  // `aud` (one value)
  std::string subject;   // `sub`, may be empty
  std::string scopes;    // `scope`, space-separated, may be empty
  int64_t ttl_seconds = 3600;
  std::string client_id;    // `client_id`, may be empty
  std::string kid;          // header kid; empty: the key's own kid
  int64_t now_seconds = 0;  // 0: the current time
};

// Reads the key file (<= 64 KiB) and mints a token; on failure returns "" and
// sets *error.
std::string mint_dev_token(const DevTokenRequest& request, std::string* error);

// Same, with the private JWK given as text (key_file is ignored).
std::string mint_dev_token_with_jwk(const std::string& private_jwk_json,
                                    const DevTokenRequest& request, std::string* error);

struct GeneratedKey {
  std::string private_jwk;  // JSON object, includes d/p/q..., kid, alg RS256, use sig
  std::string public_jwks;  // {"keys":[<public part>]}
};
// A fresh RSA-2048 signing key. On failure both strings are empty.
GeneratedKey generate_rsa_jwk(const std::string& kid);

// Parses a "1h" / "30m" / "45s" / "2d" / "3600" duration; -1 when invalid or
// not positive. For the CLI's --ttl.
int64_t parse_ttl_seconds(const std::string& text);

}  // namespace mag::auth
