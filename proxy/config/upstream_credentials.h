// The gateway's own credentials for one upstream: MCP forbids passing the
// client's token through, so the gateway sends credentials of its own.
//   credentials.headers            static header values (CredentialHeader)
//   credentials.client_credentials the gateway's own OAuth token for the
//                                  upstream (RFC 6749 §4.4)
//   credentials.token_exchange     the caller's token exchanged for one with
//                                  the upstream's audience (RFC 8693)
// Loaded by proxy/config/credentials_loader.h; used at run time by
// proxy/credentials/.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mag::config {

struct CredentialHeader {
  std::string name;   // as written in the file; a valid token, never a gateway-owned field
  std::string value;  // what is sent: a secret, never logged or dumped
  // The file form: the file's path (resolved against the config file's
  // directory), read at every load and so at every reload; empty when the
  // value is written in the config.
  std::string file;
  bool prefixed = false;  // the file form has a `prefix`
};

// How the gateway authenticates itself at a token endpoint (RFC 6749 §2.3,
// RFC 7523 §2.2), and where that endpoint is.
struct OAuthClient {
  // https (http only for a loopback host). Empty when `issuer` is set: the
  // endpoint is then discovered from the issuer's metadata at run time
  // (OpenID Connect Discovery, then RFC 8414).
  std::string token_endpoint;
  std::string issuer;
  std::string client_id;
  enum class AuthMethod { kClientSecretBasic, kClientSecretPost, kPrivateKeyJwt };
  AuthMethod auth_method = AuthMethod::kClientSecretBasic;
  // client_secret_basic / client_secret_post: the secret (from the config
  // with ${VAR}, or a file re-read at every load); never logged or dumped.
  std::string client_secret;
  std::string client_secret_file;  // the file form's path; empty otherwise
  // private_key_jwt: the PEM key (read at load from `private_key_file`),
  // its `kid` (optional) and the JWS alg (RS256, PS256, ES256; default
  // RS256 for an RSA key, ES256 for a P-256 key).
  std::string private_key_file;
  std::string private_key_pem;
  std::string key_id;
  std::string signing_alg;
  std::string ca_file;  // https token endpoint: PEM bundle instead of the system store
  std::chrono::milliseconds timeout{5000};  // one token request, whole exchange
};

// `credentials.client_credentials`: one token per upstream, sent as
// `Authorization: Bearer <token>`, cached until shortly before it expires.
struct ClientCredentials {
  OAuthClient client;
  std::vector<std::string> scopes;  // sent space-separated as `scope`; may be empty
  std::string resource;             // RFC 8707 `resource`; may be empty
  std::string audience;             // `audience` parameter (some IdPs); may be empty
};

// `credentials.token_exchange`: per caller, the caller's validated token
// (subject_token, type access_token) exchanged for one with the upstream's
// audience, sent as `Authorization: Bearer <token>`.
struct TokenExchange {
  OAuthClient client;
  std::string audience;             // at least one of audience / resource
  std::string resource;
  std::vector<std::string> scopes;  // narrower scopes; may be empty
  std::string requested_token_type = "urn:ietf:params:oauth:token-type:access_token";
  size_t cache_entries = 10000;     // bounded: least recently used goes first
};

}  // namespace mag::config
