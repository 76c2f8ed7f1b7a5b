// `upstreams.<name>.credentials.client_credentials` and `.token_exchange`:
// the gateway's own OAuth client at a token endpoint.
//
//   client_credentials:
//     token_endpoint: https://idp.example.com/oauth/token   # or issuer: ...
//     client_id: mag-gateway
//     auth_method: client_secret_basic   # client_secret_post, private_key_jwt
//     client_secret: ${MAG_CLIENT_SECRET}    # or {file: /run/secrets/secret}
//     scopes: [mcp]
//
// An endpoint (or issuer) is https, http only for a loopback host. The two
// secret methods need `client_secret` and refuse the key settings;
// private_key_jwt needs `private_key_file` (an RSA or EC P-256 PEM key, read
// and parsed now) and refuses a secret. Files are read at every load, so a
// reload picks up a rotated secret or key. An error names the key path,
// never a secret.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "proxy/config/upstream_credentials.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class OAuthClientLoader {
 public:
  explicit OAuthClientLoader(const YamlReader& yaml) : yaml_(yaml) {}
  // `node` is the value of the block, `path` its key path.
  ClientCredentials load_client_credentials(const YAML::Node& node, const std::string& path) const;
  TokenExchange load_token_exchange(const YAML::Node& node, const std::string& path) const;

 private:
  using Fields = std::map<std::string, Field>;
  // The keys both blocks take.
  OAuthClient client(const YAML::Node& node, const Fields& fields, const std::string& path) const;
  void endpoint(const YAML::Node& node, const Fields& fields, const std::string& path,
                OAuthClient* client) const;
  std::string endpoint_url(const Field& field, const std::string& path) const;
  void auth_method(const Fields& fields, const std::string& path, OAuthClient* client) const;
  void client_secret(const Field& field, const std::string& path, OAuthClient* client) const;
  // Fails at `where` when `secret` cannot be sent, without showing it.
  void check_secret(const YAML::Node& where, const std::string& path,
                    const std::string& secret) const;
  void private_key(const Fields& fields, const std::string& path, OAuthClient* client) const;
  void ca_file(const Fields& fields, const std::string& path, OAuthClient* client) const;
  // A string without control characters or spaces: an identifier sent to the AS.
  std::string word(const Field& field, const std::string& path) const;
  // An absolute URI (RFC 3986 §4.3): a scheme, no fragment, no spaces.
  std::string absolute_uri(const Field& field, const std::string& path) const;

  const YamlReader& yaml_;
};

}  // namespace mag::config
