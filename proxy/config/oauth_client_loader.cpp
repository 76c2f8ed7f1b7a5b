#include "proxy/config/oauth_client_loader.h"

#include <algorithm>
#include <cctype>

#include "common/tls/tls_client_context.h"
#include "proxy/config/credentials_loader.h"
#include "proxy/config/signing_key.h"
#include "proxy/config/value_syntax.h"

namespace mag::config {
namespace {

constexpr std::string_view kTokenTypePrefix = "urn:ietf:params:oauth:token-type:";
constexpr size_t kMaxWordBytes = 2048;

// localhost, 127.0.0.0/8 and ::1: the hosts an http:// token endpoint may use.
bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  return host.starts_with("127.") && tls::is_ip_literal(host);
}

bool visible_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7F;
  });
}

// RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
bool has_scheme(std::string_view uri) {
  const size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == uri.size()) return false;
  if (!std::isalpha(static_cast<unsigned char>(uri[0]))) return false;
  return std::all_of(uri.begin(), uri.begin() + static_cast<std::ptrdiff_t>(colon), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '-' || ch == '.';
  });
}

}  // namespace

ClientCredentials OAuthClientLoader::load_client_credentials(const YAML::Node& node,
                                                             const std::string& path) const {
  const Fields fields = yaml_.read_map(
      node, path,
      {"token_endpoint", "issuer", "client_id", "auth_method", "client_secret", "private_key_file",
       "key_id", "signing_alg", "ca_file", "timeout", "scopes", "resource", "audience"});
  ClientCredentials out;
  out.client = client(node, fields, path);
  if (auto f = fields.find("scopes"); f != fields.end()) {
    out.scopes = yaml_.scope_list(f->second.value, path + ".scopes");
  }
  if (auto f = fields.find("resource"); f != fields.end()) {
    out.resource = absolute_uri(f->second, path + ".resource");
  }
  if (auto f = fields.find("audience"); f != fields.end()) {
    out.audience = word(f->second, path + ".audience");
  }
  return out;
}

TokenExchange OAuthClientLoader::load_token_exchange(const YAML::Node& node,
                                                     const std::string& path) const {
  const Fields fields =
      yaml_.read_map(node, path,
                     {"token_endpoint", "issuer", "client_id", "auth_method", "client_secret",
                      "private_key_file", "key_id", "signing_alg", "ca_file", "timeout", "audience",
                      "resource", "scopes", "requested_token_type", "cache_entries"});
  TokenExchange out;
  out.client = client(node, fields, path);
  auto audience = fields.find("audience");
  auto resource = fields.find("resource");
  if (audience == fields.end() && resource == fields.end()) {
    yaml_.fail(node, path,
               "needs 'audience' or 'resource' (or both): the token the upstream accepts");
  }
  if (audience != fields.end()) out.audience = word(audience->second, path + ".audience");
  if (resource != fields.end()) out.resource = absolute_uri(resource->second, path + ".resource");
  if (auto f = fields.find("scopes"); f != fields.end()) {
    out.scopes = yaml_.scope_list(f->second.value, path + ".scopes");
  }
  if (auto f = fields.find("requested_token_type"); f != fields.end()) {
    const std::string where = path + ".requested_token_type";
    out.requested_token_type = word(f->second, where);
    if (!out.requested_token_type.starts_with(kTokenTypePrefix) ||
        out.requested_token_type.size() == kTokenTypePrefix.size()) {
      yaml_.fail(f->second.value, where,
                 "'" + out.requested_token_type + "' is not a token type URI (expected " +
                     std::string(kTokenTypePrefix) + "*, e.g. " + std::string(kTokenTypePrefix) +
                     "access_token)");
    }
  }
  if (auto f = fields.find("cache_entries"); f != fields.end()) {
    out.cache_entries =
        static_cast<size_t>(yaml_.integer(f->second.value, path + ".cache_entries", 1, 1000000));
  }
  return out;
}

OAuthClient OAuthClientLoader::client(const YAML::Node& node, const Fields& fields,
                                      const std::string& path) const {
  OAuthClient client;
  endpoint(node, fields, path, &client);
  auto id = fields.find("client_id");
  if (id == fields.end()) yaml_.fail(node, path, "missing required key 'client_id'");
  client.client_id = word(id->second, path + ".client_id");
  auth_method(fields, path, &client);
  const bool jwt = client.auth_method == OAuthClient::AuthMethod::kPrivateKeyJwt;
  auto secret = fields.find("client_secret");
  if (jwt && secret != fields.end()) {
    yaml_.fail(secret->second.key, path + ".client_secret",
               "auth_method private_key_jwt signs with 'private_key_file': remove "
               "'client_secret'");
  }
  if (!jwt && secret == fields.end()) {
    yaml_.fail(node, path,
               "missing required key 'client_secret' (auth_method client_secret_basic or "
               "client_secret_post)");
  }
  if (jwt) {
    private_key(fields, path, &client);
  } else {
    client_secret(secret->second, path + ".client_secret", &client);
    for (const char* key : {"private_key_file", "key_id", "signing_alg"}) {
      if (auto f = fields.find(key); f != fields.end()) {
        yaml_.fail(f->second.key, path + "." + key,
                   std::string("'") + key + "' is only for auth_method private_key_jwt");
      }
    }
  }
  ca_file(fields, path, &client);
  if (auto f = fields.find("timeout"); f != fields.end()) {
    client.timeout =
        std::chrono::seconds(yaml_.integer(f->second.value, path + ".timeout", 1, 300));
  }
  return client;
}

void OAuthClientLoader::endpoint(const YAML::Node& node, const Fields& fields,
                                 const std::string& path, OAuthClient* client) const {
  auto endpoint = fields.find("token_endpoint");
  auto issuer = fields.find("issuer");
  if (endpoint != fields.end() && issuer != fields.end()) {
    yaml_.fail(issuer->second.key, path,
               "'token_endpoint' and 'issuer' are exclusive: set the endpoint, or the issuer "
               "whose metadata names it");
  }
  if (endpoint != fields.end()) {
    client->token_endpoint = endpoint_url(endpoint->second, path + ".token_endpoint");
  } else if (issuer != fields.end()) {
    client->issuer = endpoint_url(issuer->second, path + ".issuer");
  } else {
    yaml_.fail(node, path, "missing required key 'token_endpoint' (or 'issuer')");
  }
}

std::string OAuthClientLoader::endpoint_url(const Field& field, const std::string& path) const {
  const std::string value = yaml_.non_empty_string(field.value, path);
  Url url;
  if (std::string reason = parse_url(value, &url); !reason.empty()) {
    // Userinfo may hold a password: the URL is then not repeated.
    const std::string shown = value.find('@') == std::string::npos ? "'" + value + "'" : "the URL";
    yaml_.fail(field.value, path, shown + " " + reason + " (expected https://host[/path])");
  }
  if (url.scheme != "https" && !is_loopback(url.host)) {
    yaml_.fail(field.value, path,
               "'" + value + "' must be https (http only for localhost, 127.0.0.0/8 or [::1])");
  }
  return value;
}

void OAuthClientLoader::auth_method(const Fields& fields, const std::string& path,
                                    OAuthClient* client) const {
  auto f = fields.find("auth_method");
  if (f == fields.end()) return;
  const std::string where = path + ".auth_method";
  const std::string method = yaml_.string(f->second.value, where);
  if (method == "client_secret_basic") {
    client->auth_method = OAuthClient::AuthMethod::kClientSecretBasic;
  } else if (method == "client_secret_post") {
    client->auth_method = OAuthClient::AuthMethod::kClientSecretPost;
  } else if (method == "private_key_jwt") {
    client->auth_method = OAuthClient::AuthMethod::kPrivateKeyJwt;
  } else {
    yaml_.fail(f->second.value, where,
               "unknown auth_method '" + method +
                   "' (expected client_secret_basic, client_secret_post or private_key_jwt)");
  }
}

void OAuthClientLoader::client_secret(const Field& field, const std::string& path,
                                      OAuthClient* client) const {
  if (!field.value.IsMap()) {
    client->client_secret = yaml_.string(field.value, path);
    check_secret(field.value, path, client->client_secret);
    return;
  }
  // The file form. `fields` owns the nodes an error points at: every check
  // that may fail on them happens while it is alive.
  const Fields fields = yaml_.read_map(field.value, path, {"file"});
  auto file = fields.find("file");
  if (file == fields.end()) yaml_.fail(field.value, path, "missing required key 'file'");
  const YAML::Node& where = file->second.value;
  const std::string where_path = path + ".file";
  client->client_secret_file = yaml_.file_path(where, where_path);
  std::string error;
  if (!read_credential_value(client->client_secret_file, &client->client_secret, &error)) {
    yaml_.fail(where, where_path, error);
  }
  check_secret(where, where_path, client->client_secret);
}

void OAuthClientLoader::check_secret(const YAML::Node& where, const std::string& path,
                                     const std::string& secret) const {
  if (std::string reason = credential_value_error(secret); !reason.empty()) {
    yaml_.fail(where, path, "the secret " + reason + " (the secret is not shown)");
  }
}

void OAuthClientLoader::private_key(const Fields& fields, const std::string& path,
                                    OAuthClient* client) const {
  auto file = fields.find("private_key_file");
  if (file == fields.end()) {
    yaml_.fail(fields.find("auth_method")->second.value, path,
               "auth_method private_key_jwt needs 'private_key_file' (a PEM RSA or EC P-256 key)");
  }
  const std::string where = path + ".private_key_file";
  client->private_key_file = yaml_.file_path(file->second.value, where);
  std::string error;
  if (!read_credential_file(client->private_key_file, &client->private_key_pem, &error)) {
    yaml_.fail(file->second.value, where, error);
  }
  EvpPkeyPtr key = parse_signing_key(client->private_key_pem, &error);
  if (!key) yaml_.fail(file->second.value, where, "'" + client->private_key_file + "': " + error);
  if (auto f = fields.find("key_id"); f != fields.end()) {
    client->key_id = word(f->second, path + ".key_id");
  }
  client->signing_alg = default_signing_alg(key.get());
  if (auto f = fields.find("signing_alg"); f != fields.end()) {
    const std::string alg_path = path + ".signing_alg";
    const std::string alg = yaml_.string(f->second.value, alg_path);
    if (alg != "RS256" && alg != "PS256" && alg != "ES256") {
      yaml_.fail(f->second.value, alg_path,
                 "unknown signing_alg '" + alg + "' (expected RS256, PS256 or ES256)");
    }
    if (!signing_alg_fits(alg, key.get())) {
      yaml_.fail(f->second.value, alg_path,
                 "'" + alg + "' does not fit the key in '" + client->private_key_file +
                     "' (RS256 and PS256 sign with an RSA key, ES256 with an EC P-256 key)");
    }
    client->signing_alg = alg;
  }
}

void OAuthClientLoader::ca_file(const Fields& fields, const std::string& path,
                                OAuthClient* client) const {
  auto f = fields.find("ca_file");
  if (f == fields.end()) return;
  const std::string where = path + ".ca_file";
  const std::string& url = client->token_endpoint.empty() ? client->issuer : client->token_endpoint;
  if (!url.starts_with("https://")) {
    yaml_.fail(f->second.key, where, "'ca_file' needs an https token endpoint (or issuer)");
  }
  client->ca_file = yaml_.file_path(f->second.value, where);
  std::string error;
  if (!tls::make_client_context(client->ca_file, &error)) yaml_.fail(f->second.value, where, error);
}

std::string OAuthClientLoader::word(const Field& field, const std::string& path) const {
  const std::string value = yaml_.non_empty_string(field.value, path);
  if (value.size() > kMaxWordBytes || !visible_ascii(value)) {
    yaml_.fail(field.value, path,
               "expected at most " + std::to_string(kMaxWordBytes) +
                   " visible ASCII characters (no spaces or control characters)");
  }
  return value;
}

std::string OAuthClientLoader::absolute_uri(const Field& field, const std::string& path) const {
  const std::string value = word(field, path);
  if (!has_scheme(value) || value.find('#') != std::string::npos) {
    yaml_.fail(field.value, path,
               "'" + value +
                   "' is not an absolute URI without a fragment (e.g. "
                   "https://mcp.example.com)");
  }
  return value;
}

}  // namespace mag::config
