// The gateway's configuration model and its YAML loader. Loading validates
// everything; an error names the file, line and column and the key path
// ("dev.yaml:12:5: routes[0].upstream: unknown upstream 'x'").
//
// `${VAR}` and `${VAR:-default}` expand from the environment inside scalar
// values after parsing (so an expanded value may contain any YAML-special
// character). Keys are never expanded. Inside a flow collection (`[...]`,
// `{...}`) YAML itself ends a plain scalar at `{`, so quote such values:
// `audiences: ["${CLIENT_ID}"]`.
//
// Hostile input: files over 1 MiB, NUL bytes, invalid UTF-8, more than one
// document, anchors/aliases, duplicate keys, unknown keys and wrong types are
// all refused with an error; no exception escapes the loader.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/upstream/upstream_tls.h"
#include "proxy/config/upstream_credentials.h"

namespace mag::config {

struct Listener {
  std::string address;  // "0.0.0.0:8000" or "[::1]:8000"
  // Optional `tls: {certificate: FILE, private_key: FILE}` (both or neither;
  // relative paths resolve against the config file's directory, like jwks_file).
  std::string tls_certificate;
  std::string tls_private_key;
  // DNS-rebinding protection (docs/authorization.md). A present
  // Origin outside `allowed_origins` → 403; a Host outside `allowed_hosts`
  // → 421. Empty = the defaults: origins from `cors.allowed_origins` unless
  // that is "*", else loopback origins only; hosts: loopback names and the
  // routes' resource hosts when the listener is bound to loopback, any
  // otherwise. "*" allows any.
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_hosts;  // "host" (any port) or "host:port"
  // From a request head to the end of its body (slow-body defence, H1-43):
  // 0..3600 s, 0 = none. Later is 408 (or an abort once a response started).
  std::chrono::milliseconds request_body_timeout{60000};
};

struct Admin {
  // As written in the file; `address: ""` disables the admin listener. Never
  // one of the public listeners' addresses.
  std::string address;
  // False when `admin.address` was not in the file: the gateway then uses
  // 127.0.0.1:9901, and failing to bind it is a warning, not a startup
  // error (see proxy::effective_admin_address).
  bool address_configured = false;
  // `ready_checks_upstreams: true`: /ready also needs every upstream a route
  // uses to accept connections (proxy/admin/upstream_health.h).
  bool ready_checks_upstreams = false;
};

// `access_log: {path, format, identity, identity_key}`: one line per request.
struct AccessLog {
  std::string path;             // empty or "-": stdout; relative: to the config file's directory
  std::string format = "json";  // json | text
  bool enabled = true;          // `access_log: off` → false
  // How `sub` and `client_id` appear: plain | hash | omit (`identity: MODE`
  // sets both, `identity: {sub: MODE, client_id: MODE}` each).
  std::string identity_sub = "plain";
  std::string identity_client_id = "plain";
  std::string identity_key;  // HMAC key for `hash`; empty: a random key per process
};

struct Provider {
  std::string name;
  std::string issuer;    // exact match against `iss`
  std::string jwks_uri;  // http(s) URL, or
  // A local JWKS file (exactly one of jwks_uri / jwks_file). A relative path
  // is resolved against the directory of the config file (not the working
  // directory), so `mcp-auth-gateway -c /etc/mag/gw.yaml` works from anywhere.
  std::string jwks_file;
  std::vector<std::string> audiences;            // accepted `aud` values besides the route resource
  std::vector<std::string> algorithms{"RS256"};  // allow-list; never none/HS*
  std::chrono::seconds clock_skew{60};           // 0..600
  std::chrono::seconds jwks_refresh{600};        // 10..86400
  // Token-validation additions (docs/tokens.md). With neither jwks_uri nor
  // jwks_file, the JWKS URL is discovered from the issuer's metadata.
  std::string ca_file;             // PEM CA bundle for https fetches (default: system store)
  std::string token_type = "jwt";  // jwt (JWT or at+jwt) | at+jwt | any
  std::vector<std::string> required_claims;
  std::chrono::seconds max_lifetime{0};  // 0 = unlimited, else 60..31536000
  bool require_exp = true;
  // Verified tokens cached per worker thread (LRU; 0 = no cache). Bounds the
  // memory a flood of distinct valid tokens can take (REL-RES-01).
  size_t token_cache_size = 10000;  // 0..1000000
  // A reload carries over a provider whose config compares equal.
  bool operator==(const Provider&) const = default;
};

// One address of an upstream (an upstream may have several endpoints).
struct UpstreamEndpoint {
  std::string url;    // http(s)://host:port[/base]
  std::string host;   // an IPv6 literal without its brackets
  uint16_t port = 0;  // 80 (http) or 443 (https) when the url has no port
  bool operator==(const UpstreamEndpoint&) const = default;
};

struct Upstream {
  std::string name;
  // `url: U` (one endpoint) or `endpoints: [U1, U2, ...]` (round-robin with
  // Mcp-Session-Id affinity; docs/transport.md). Never empty; url/host/port
  // repeat the first endpoint.
  std::vector<UpstreamEndpoint> endpoints;
  std::string url;    // http(s)://host:port[/base]
  std::string host;   // parsed from url; an IPv6 literal without its brackets
  uint16_t port = 0;  // 80 (http) or 443 (https) when the url has no port
  // Path of the url without trailing '/', may be empty; the same for every endpoint.
  std::string base_path;
  // Transport limits (docs/transport.md); the pool's defaults.
  size_t max_connections = 1024;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds response_header_timeout{60000};
  std::chrono::milliseconds idle_timeout{300000};  // mid-body silence; 0 = none
  // The Host the upstream sees (`host_header`): by default its own
  // host:port (a FastMCP/uvicorn server bound to localhost answers 421 to a
  // foreign Host); `client` passes the client's Host through; any other
  // value is sent as is.
  enum class HostHeader { kUpstream, kClient, kFixed };
  HostHeader host_header = HostHeader::kUpstream;
  // What is sent (kClient: when the client sent no Host): the fixed value,
  // or the first endpoint's host:port, rendered once at load time.
  std::string host_header_value;
  // https:// endpoints (all of them or none): verified TLS with these files
  // (paths resolved against the config file's directory) and the name to
  // verify and send as SNI (empty: each endpoint's host). `tls_context` is
  // built at load, shared by every pool of this upstream.
  bool tls = false;
  std::string ca_file;  // empty: the system store
  std::string client_cert_file;
  std::string client_key_file;
  std::string tls_server_name;
  std::shared_ptr<const http::UpstreamTls> tls_context;
  // `credentials: {headers: ...}`: set on every request to this upstream,
  // any client copy removed first (proxy/config/credentials_loader.h).
  std::vector<CredentialHeader> credential_headers;
  // `credentials: {client_credentials: ...}` or `{token_exchange: ...}`
  // (at most one of them, and then no static `Authorization` header).
  std::optional<ClientCredentials> client_credentials;
  std::optional<TokenExchange> token_exchange;
};

struct RouteAuth {
  bool enabled = true;  // `auth: none` → false
  // Any of them. Default when `providers` is omitted: the only configured
  // provider (an error when there are zero or several).
  std::vector<std::string> providers;
  std::vector<std::string> scopes;                        // all required
  std::map<std::string, std::vector<std::string>> tools;  // per-tool scopes
  // docs/authorization.md: "*" in `tools` / `methods` is the
  // default for unlisted names; `deny` instead of a scope list refuses with a
  // plain 403 (no scope can fix it).
  std::map<std::string, std::vector<std::string>> methods;  // per-method scopes
  std::vector<std::string> denied_tools;
  std::vector<std::string> denied_methods;
  // prompts/get by params.name, as `tools` ("*" the default).
  std::map<std::string, std::vector<std::string>> prompts;
  std::vector<std::string> denied_prompts;
  // resources/read, resources/subscribe and resources/unsubscribe by
  // params.uri: a key is an exact URI, or a prefix followed by `*`; the
  // exact key wins, then the longest prefix, then "*" alone (the default;
  // proxy/mcp/resource_rules.h).
  std::map<std::string, std::vector<std::string>> resources;
  std::vector<std::string> denied_resources;
  // No token → forwarded anonymously (rules that need a scope still answer
  // 401); an invalid token is still a 401.
  bool allow_missing = false;
};

// `claim_to_headers: {sub: X-MCP-Subject, scope: X-MCP-Scopes}`
// (JWT-CLM-16; rendering in proxy/mcp/identity_headers.h).
struct ClaimHeader {
  std::string claim;   // any top-level member of the token payload
  std::string header;  // header name; any client-sent copy is removed first
};

// `timeouts:` on a route: overrides of its upstream's
// connect_timeout / response_header_timeout / idle_timeout for the requests
// of this route. Unset = the upstream's.
struct RouteTimeouts {
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::optional<std::chrono::milliseconds> response_header_timeout;
  std::optional<std::chrono::milliseconds> idle_timeout;  // 0 = none
};

struct Route {
  std::string path_prefix;  // "/mcp"; matches "/mcp" and "/mcp/..." (segment bound)
  std::string upstream;     // name in `upstreams`
  // `prefix_rewrite: /path`: what replaces path_prefix in the path the
  // upstream receives (proxy/router/path_rewrite.h); unset = the path as
  // received. Same grammar as path_prefix.
  std::optional<std::string> prefix_rewrite;
  // The RFC 9728 resource identifier (public URL of path_prefix): absolute
  // http(s), no fragment, no query, no userinfo. Required when auth is enabled.
  std::string resource;
  std::string resource_name;  // optional, for the PRM document
  RouteAuth auth;
  std::vector<ClaimHeader> claim_to_headers;  // identity headers from claims
  std::string forward_payload_header;         // base64url JWT payload, empty = off
  RouteTimeouts timeouts;
  // Derived at load: absolute URL of this route's PRM (path-inserted form).
  std::string resource_metadata_url;
  // Derived at load: the path-inserted PRM path ("/.well-known/oauth-protected-resource/mcp";
  // just "/.well-known/oauth-protected-resource" for an origin-only resource).
  // Unique among auth-enabled routes.
  std::string metadata_path;
};

struct Cors {
  std::vector<std::string> allowed_origins;  // "*" allows any (the default)
};

struct Config {
  std::string source;  // file path it was loaded from
  std::vector<Listener> listeners;
  Admin admin;
  std::map<std::string, Provider> providers;
  std::map<std::string, Upstream> upstreams;
  std::vector<Route> routes;
  // Derived at load: every route's claim_to_headers and forward_payload_header
  // names. Removed from every forwarded request, whatever its route (JWT-CLM-16).
  std::vector<std::string> identity_header_names;
  Cors cors;
  std::string log_level = "info";  // debug | info | warn | error
  AccessLog access_log;
  // `drain_timeout: SECONDS`: how long SIGTERM waits for the
  // exchanges in flight before closing what is left (long SSE streams).
  std::chrono::milliseconds drain_timeout{10000};
  // `workers: N`: worker threads, each with its own event loop and
  // SO_REUSEPORT listeners; 1..64, 0 (the default) = one per core. Fixed at
  // start (a reload keeps the running count).
  size_t workers = 0;
  // `authz:` (docs/authorization.md).
  struct Authz {
    std::chrono::seconds session_idle_timeout{3600};
    size_t max_sessions = 100000;
    size_t max_sessions_per_principal = 1000;
    // A request whose Mcp-Session-Id has no binding: refused with 404
    // (`refuse`), or forwarded and bound to its principal (`adopt`).
    enum class UnknownSessions { kRefuse, kAdopt };
    UnknownSessions unknown_sessions = UnknownSessions::kRefuse;
    std::chrono::seconds stream_expiry_grace{0};
    size_t max_inspected_body = 1 << 20;
  } authz;
};

struct LoadError {
  std::string message;  // "config.yaml:12:5: routes[0].upstream: unknown upstream 'x'"
};

// Loads and validates. Exactly one of the two results is set.
struct LoadResult {
  std::shared_ptr<const Config> config;
  std::optional<LoadError> error;
};
LoadResult load_file(const std::string& path);
// Relative file paths in the document resolve against the directory of
// `source_name` (the working directory for "<string>" or a bare file name).
LoadResult load_string(const std::string& yaml, const std::string& source_name = "<string>");

// Expands ${VAR} and ${VAR:-default}; `$$` is a literal `$`. An unset
// variable without default is an error (message names it). As in the shell,
// the default also applies when the variable is set but empty. The default
// is literal text up to the first `}` (no nested expansion). A `$` not
// followed by `{` or `$` is kept as is.
bool expand_env(const std::string& in, std::string* out, std::string* error);

}  // namespace mag::config
