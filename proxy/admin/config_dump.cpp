#include "proxy/admin/config_dump.h"

#include <jansson.h>

#include <array>
#include <chrono>
#include <map>
#include <vector>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"
#include "proxy/router/origin_policy.h"
#include "proxy/server/admin_listener.h"
#include "proxy/server/gateway.h"

namespace mag::proxy {
namespace {

constexpr const char* kRedacted = "[redacted]";

// Sets a member named by the config schema. A secret-named member keeps
// only whether it is set ("[redacted]" or null). Names chosen in the file
// (providers, upstreams, tools, methods, claims) are set with
// json_object_set_new instead, so a tool called `token` is not redacted.
void set(json_t* object, const char* key, json_t* value) {
  if (is_secret_field(key) && !json_is_null(value)) {
    json_decref(value);
    value = json_string(kRedacted);
  }
  json_object_set_new(object, key, value);
}

json_t* str(const std::string& value) {
  return json_stringn(value.data(), value.size());
}

// Null for an unset optional string.
json_t* str_or_null(const std::string& value) {
  return value.empty() ? json_null() : str(value);
}

json_t* str_or_null(const std::optional<std::string>& value) {
  return value ? str(*value) : json_null();
}

json_t* string_array(const std::vector<std::string>& values) {
  json_t* array = json_array();
  for (const auto& v : values) json_array_append_new(array, str(v));
  return array;
}

json_t* count(size_t value) {
  return json_integer(static_cast<json_int_t>(value));
}

// Durations are seconds, the unit every duration key of the YAML takes.
template <class Rep, class Period>
json_t* seconds(std::chrono::duration<Rep, Period> duration) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  if (ms % 1000 == 0) return json_integer(static_cast<json_int_t>(ms / 1000));
  return json_real(static_cast<double>(ms) / 1000.0);
}

// What a listener admits when its own list is empty (proxy/router/origin_policy.h):
// "*" any, "null" the null origin, "loopback" any http(s) origin on
// localhost, 127.0.0.0/8 or [::1].
json_t* effective_origins(const OriginPolicy& policy) {
  json_t* list = json_array();
  if (policy.any_origin) json_array_append_new(list, json_string("*"));
  if (policy.null_origin) json_array_append_new(list, json_string("null"));
  for (const auto& origin : policy.origins) json_array_append_new(list, str(origin));
  if (policy.loopback_origins) json_array_append_new(list, json_string("loopback"));
  return list;
}

json_t* effective_hosts(const OriginPolicy& policy) {
  json_t* list = json_array();
  if (policy.any_host) json_array_append_new(list, json_string("*"));
  for (const auto& host : policy.hosts) json_array_append_new(list, str(host.text()));
  return list;
}

// The list as written, or "default" when the listener lists nothing.
json_t* list_or_default(const std::vector<std::string>& values) {
  return values.empty() ? json_string("default") : string_array(values);
}

json_t* listener_json(const config::Listener& listener, const config::Config& config) {
  const OriginPolicy policy = origin_policy_for(listener, config);
  json_t* l = json_object();
  set(l, "address", str(listener.address));
  json_t* tls = json_null();
  if (!listener.tls_certificate.empty()) {
    tls = json_object();
    set(tls, "certificate", str(listener.tls_certificate));
    set(tls, "private_key", str(listener.tls_private_key));  // a path, not the key
  }
  set(l, "tls", tls);
  set(l, "allowed_origins", list_or_default(listener.allowed_origins));
  set(l, "effective_allowed_origins", effective_origins(policy));
  set(l, "allowed_hosts", list_or_default(listener.allowed_hosts));
  set(l, "effective_allowed_hosts", effective_hosts(policy));
  set(l, "request_body_timeout", seconds(listener.request_body_timeout));
  return l;
}

json_t* admin_json(const config::Admin& admin) {
  json_t* a = json_object();
  set(a, "address", str(effective_admin_address(admin)));
  set(a, "address_configured", json_boolean(admin.address_configured));
  set(a, "ready_checks_upstreams", json_boolean(admin.ready_checks_upstreams));
  return a;
}

json_t* provider_json(const config::Provider& p) {
  json_t* entry = json_object();
  set(entry, "issuer", str(p.issuer));
  set(entry, "jwks_uri", str_or_null(p.jwks_uri));
  set(entry, "jwks_file", str_or_null(p.jwks_file));
  set(entry, "audiences", string_array(p.audiences));
  set(entry, "algorithms", string_array(p.algorithms));
  set(entry, "clock_skew", seconds(p.clock_skew));
  set(entry, "jwks_refresh", seconds(p.jwks_refresh));
  set(entry, "ca_file", str_or_null(p.ca_file));
  set(entry, "token_type", str(p.token_type));
  set(entry, "required_claims", string_array(p.required_claims));
  set(entry, "max_lifetime", seconds(p.max_lifetime));
  set(entry, "require_exp", json_boolean(p.require_exp));
  set(entry, "token_cache_size", count(p.token_cache_size));
  return entry;
}

// `host_header` as the YAML takes it: upstream, client or the value sent.
json_t* host_header_json(const config::Upstream& u) {
  switch (u.host_header) {
    case config::Upstream::HostHeader::kUpstream:
      return json_string("upstream");
    case config::Upstream::HostHeader::kClient:
      return json_string("client");
    case config::Upstream::HostHeader::kFixed:
      break;
  }
  return str(u.host_header_value);
}

const char* auth_method_name(config::OAuthClient::AuthMethod method) {
  switch (method) {
    case config::OAuthClient::AuthMethod::kClientSecretPost:
      return "client_secret_post";
    case config::OAuthClient::AuthMethod::kPrivateKeyJwt:
      return "private_key_jwt";
    case config::OAuthClient::AuthMethod::kClientSecretBasic:
      break;
  }
  return "client_secret_basic";
}

// The keys both OAuth blocks take, every one with its value or default: the
// secret is "[redacted]" (its file form shows the path), and so is the PEM
// of the private key (`private_key_pem`, not a YAML key; its file is shown).
void oauth_client_json(const config::OAuthClient& c, json_t* out) {
  set(out, "token_endpoint", str_or_null(c.token_endpoint));
  set(out, "issuer", str_or_null(c.issuer));
  set(out, "client_id", str(c.client_id));
  set(out, "auth_method", json_string(auth_method_name(c.auth_method)));
  if (!c.client_secret_file.empty()) {
    json_t* file = json_object();
    set(file, "file", str(c.client_secret_file));
    json_object_set_new(out, "client_secret", file);
  } else {
    set(out, "client_secret", str_or_null(c.client_secret));
  }
  set(out, "private_key_file", str_or_null(c.private_key_file));
  set(out, "private_key_pem", str_or_null(c.private_key_pem));
  set(out, "key_id", str_or_null(c.key_id));
  set(out, "signing_alg", str_or_null(c.signing_alg));
  set(out, "ca_file", str_or_null(c.ca_file));
  set(out, "timeout", seconds(c.timeout));
}

json_t* client_credentials_json(const config::ClientCredentials& cc) {
  json_t* out = json_object();
  oauth_client_json(cc.client, out);
  set(out, "scopes", string_array(cc.scopes));
  set(out, "resource", str_or_null(cc.resource));
  set(out, "audience", str_or_null(cc.audience));
  return out;
}

json_t* token_exchange_json(const config::TokenExchange& te) {
  json_t* out = json_object();
  oauth_client_json(te.client, out);
  set(out, "audience", str_or_null(te.audience));
  set(out, "resource", str_or_null(te.resource));
  set(out, "scopes", string_array(te.scopes));
  set(out, "requested_token_type", str(te.requested_token_type));
  set(out, "cache_entries", count(te.cache_entries));
  return out;
}

// `credentials` as the YAML takes it, without a secret: each header's value
// is "[redacted]"; the file form shows its path, and its prefix (part of
// the value sent) is "[redacted]" too; an OAuth block is there when set.
json_t* credentials_json(const config::Upstream& u) {
  json_t* headers = json_object();
  for (const auto& header : u.credential_headers) {
    if (header.file.empty()) {
      json_object_set_new(headers, header.name.c_str(), json_string(kRedacted));
      continue;
    }
    json_t* file = json_object();
    set(file, "file", str(header.file));
    if (header.prefixed) set(file, "prefix", json_string(kRedacted));
    json_object_set_new(headers, header.name.c_str(), file);
  }
  json_t* c = json_object();
  set(c, "headers", headers);
  if (u.client_credentials)
    set(c, "client_credentials", client_credentials_json(*u.client_credentials));
  if (u.token_exchange) set(c, "token_exchange", token_exchange_json(*u.token_exchange));
  return c;
}

json_t* upstream_json(const config::Upstream& u) {
  json_t* entry = json_object();
  set(entry, "url", str(u.url));
  json_t* endpoints = json_array();
  for (const auto& e : u.endpoints) json_array_append_new(endpoints, str(e.url));
  set(entry, "endpoints", endpoints);
  set(entry, "host", str(u.host));
  set(entry, "port", json_integer(u.port));
  set(entry, "base_path", str(u.base_path));
  set(entry, "max_connections", count(u.max_connections));
  set(entry, "connect_timeout", seconds(u.connect_timeout));
  set(entry, "response_header_timeout", seconds(u.response_header_timeout));
  set(entry, "idle_timeout", seconds(u.idle_timeout));
  set(entry, "host_header", host_header_json(u));
  set(entry, "host_header_value", str(u.host_header_value));
  // TLS settings of an https:// upstream: file paths, never file contents.
  set(entry, "tls", json_boolean(u.tls));
  if (u.tls) {
    set(entry, "ca_file", u.ca_file.empty() ? json_null() : str(u.ca_file));
    set(entry, "client_cert_file",
        u.client_cert_file.empty() ? json_null() : str(u.client_cert_file));
    set(entry, "client_key_file", u.client_key_file.empty() ? json_null() : str(u.client_key_file));
    set(entry, "tls_server_name", u.tls_server_name.empty() ? json_null() : str(u.tls_server_name));
  }
  set(entry, "credentials", credentials_json(u));
  return entry;
}

// A rule map as the YAML takes it: `name: [scopes]` or `name: deny`.
json_t* rules_json(const std::map<std::string, std::vector<std::string>>& scoped,
                   const std::vector<std::string>& denied) {
  json_t* rules = json_object();
  for (const auto& [name, scopes] : scoped) {
    json_object_set_new(rules, name.c_str(), string_array(scopes));
  }
  for (const auto& name : denied) json_object_set_new(rules, name.c_str(), json_string("deny"));
  return rules;
}

json_t* route_auth_json(const config::RouteAuth& auth) {
  json_t* a = json_object();
  set(a, "enabled", json_boolean(auth.enabled));
  if (!auth.enabled) return a;  // `auth: none`: nothing else applies
  set(a, "providers", string_array(auth.providers));
  set(a, "scopes", string_array(auth.scopes));
  set(a, "tools", rules_json(auth.tools, auth.denied_tools));
  set(a, "methods", rules_json(auth.methods, auth.denied_methods));
  set(a, "prompts", rules_json(auth.prompts, auth.denied_prompts));
  set(a, "resources", rules_json(auth.resources, auth.denied_resources));
  set(a, "allow_missing", json_boolean(auth.allow_missing));
  return a;
}

// The route's timeouts, its upstream's where it does not override them.
json_t* route_timeouts_json(const config::RouteTimeouts& t, const config::Upstream* upstream) {
  const auto effective = [&](const std::optional<std::chrono::milliseconds>& own,
                             std::chrono::milliseconds config::Upstream::*inherited) {
    if (own) return seconds(*own);
    return upstream ? seconds(upstream->*inherited) : json_null();
  };
  json_t* timeouts = json_object();
  set(timeouts, "connect_timeout",
      effective(t.connect_timeout, &config::Upstream::connect_timeout));
  set(timeouts, "response_header_timeout",
      effective(t.response_header_timeout, &config::Upstream::response_header_timeout));
  set(timeouts, "idle_timeout", effective(t.idle_timeout, &config::Upstream::idle_timeout));
  return timeouts;
}

json_t* route_json(const config::Route& route, const config::Config& config) {
  auto upstream = config.upstreams.find(route.upstream);
  json_t* r = json_object();
  set(r, "path_prefix", str(route.path_prefix));
  set(r, "prefix_rewrite", str_or_null(route.prefix_rewrite));
  set(r, "upstream", str(route.upstream));
  set(r, "resource", str_or_null(route.resource));
  set(r, "resource_name", str_or_null(route.resource_name));
  set(r, "metadata_path", str_or_null(route.metadata_path));
  set(r, "resource_metadata_url", str_or_null(route.resource_metadata_url));
  set(r, "auth", route_auth_json(route.auth));
  json_t* claims = json_object();
  for (const auto& mapping : route.claim_to_headers) {
    json_object_set_new(claims, mapping.claim.c_str(), str(mapping.header));
  }
  set(r, "claim_to_headers", claims);
  set(r, "forward_payload_header", str_or_null(route.forward_payload_header));
  set(r, "timeouts",
      route_timeouts_json(route.timeouts,
                          upstream == config.upstreams.end() ? nullptr : &upstream->second));
  return r;
}

json_t* access_log_json(const config::AccessLog& log) {
  json_t* a = json_object();
  set(a, "enabled", json_boolean(log.enabled));
  if (!log.enabled) return a;  // `access_log: off`
  set(a, "path", str(log.path.empty() ? "-" : log.path));
  set(a, "format", str(log.format));
  json_t* identity = json_object();
  set(identity, "sub", str(log.identity_sub));
  set(identity, "client_id", str(log.identity_client_id));
  set(a, "identity", identity);
  // Whether a key is set, never the key (`set` redacts it by name).
  set(a, "identity_key", str_or_null(log.identity_key));
  return a;
}

json_t* authz_json(const config::Config::Authz& authz) {
  json_t* a = json_object();
  set(a, "session_idle_timeout", seconds(authz.session_idle_timeout));
  set(a, "max_sessions", count(authz.max_sessions));
  set(a, "max_sessions_per_principal", count(authz.max_sessions_per_principal));
  set(a, "unknown_sessions",
      json_string(authz.unknown_sessions == config::Config::Authz::UnknownSessions::kAdopt
                      ? "adopt"
                      : "refuse"));
  set(a, "stream_expiry_grace", seconds(authz.stream_expiry_grace));
  set(a, "max_inspected_body", count(authz.max_inspected_body));
  return a;
}

}  // namespace

bool is_secret_field(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kSecret = {
      "client_secret", "password",     "secret",        "private_key_pem",
      "token",         "api_key",      "identity_key",  "access_token",
      "refresh_token", "bearer_token", "authorization", "hmac_key"};
  for (auto s : kSecret) {
    if (s == name) return true;
  }
  return false;
}

std::string config_dump_json(const config::Config& config) {
  JsonPtr doc = json_own(json_object());
  json_t* d = doc.get();
  set(d, "source", str(config.source));
  json_t* listeners = json_array();
  for (const auto& l : config.listeners) json_array_append_new(listeners, listener_json(l, config));
  set(d, "listeners", listeners);
  set(d, "admin", admin_json(config.admin));
  json_t* providers = json_object();
  for (const auto& [name, p] : config.providers) {
    json_object_set_new(providers, name.c_str(), provider_json(p));
  }
  set(d, "providers", providers);
  json_t* upstreams = json_object();
  for (const auto& [name, u] : config.upstreams) {
    json_object_set_new(upstreams, name.c_str(), upstream_json(u));
  }
  set(d, "upstreams", upstreams);
  json_t* routes = json_array();
  for (const auto& route : config.routes) json_array_append_new(routes, route_json(route, config));
  set(d, "routes", routes);
  set(d, "identity_header_names", string_array(config.identity_header_names));
  json_t* cors = json_object();
  set(cors, "allowed_origins", string_array(config.cors.allowed_origins));
  set(d, "cors", cors);
  set(d, "log_level", str(config.log_level));
  set(d, "access_log", access_log_json(config.access_log));
  set(d, "drain_timeout", seconds(config.drain_timeout));
  set(d, "workers", count(config.workers));
  set(d, "effective_workers", count(effective_workers(config)));
  set(d, "authz", authz_json(config.authz));
  auto text = json::to_json_string(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (!text) return "{}\n";
  return *text + "\n";
}

}  // namespace mag::proxy
