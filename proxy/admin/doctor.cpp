#include "proxy/admin/doctor.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "common/core/c_handles.h"
#include "common/core/log.h"
#include "common/http/http_server.h"
#include "common/json/json_text.h"
#include "proxy/admin/mcp_initialize_probe.h"
#include "proxy/admin/upstream_token_check.h"
#include "proxy/auth/jwks.h"
#include "proxy/router/protected_resource_metadata.h"

namespace mag::proxy {
namespace {

constexpr std::string_view kAsMetadata = "/.well-known/oauth-authorization-server";
constexpr std::string_view kOidcMetadata = "/.well-known/openid-configuration";

class Checker {
 public:
  Checker(DoctorReport* report, const DoctorFetch& fetch, const DoctorSend& send)
      : report_(report), fetch_(fetch), send_(send) {}

  void add(Severity s, const std::string& route, const std::string& check, std::string message) {
    report_->findings.push_back({s, route, check, log::sanitize(message, 400)});
  }

  void check_route(const config::Config& config, const config::Route& route);
  void check_upstream(const config::Config& config, const config::Route& route);

 private:
  void check_resource(const config::Config& config, const config::Route& route);
  std::vector<std::string> check_prm(const config::Config& config, const config::Route& route);
  // Returns the metadata's jwks_uri ("" when unknown).
  std::string check_authorization_server(const config::Route& route,
                                         const config::Provider& provider);
  void check_jwks(const config::Route& route, const config::Provider& provider,
                  const std::string& discovered_jwks_uri);
  void check_audience(const config::Route& route, const config::Provider& provider);
  McpInitializeAnswer initialize(const std::string& upstream, const McpProbeTarget& target);

  DoctorReport* report_;
  const DoctorFetch& fetch_;
  const DoctorSend& send_;
  // Answers by upstream and URL: routes that share both are checked once.
  std::map<std::string, McpInitializeAnswer> answers_;
  // upstream.token, once per upstream.
  std::map<std::string, UpstreamTokenCheck> token_checks_;
};

JsonPtr parse_object(const std::string& text) {
  json_error_t error;
  JsonPtr doc = json_own(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &error));
  if (!doc || !json_is_object(doc.get())) return nullptr;
  return doc;
}

std::string member(json_t* object, const char* name) {
  json_t* v = json_object_get(object, name);
  return json_is_string(v) ? std::string(json_string_value(v), json_string_length(v)) : "";
}

std::vector<std::string> string_members(json_t* object, const char* name) {
  std::vector<std::string> out;
  json_t* array = json_object_get(object, name);
  size_t i;
  json_t* v;
  json_array_foreach(array, i, v) {
    if (json_is_string(v)) out.emplace_back(json_string_value(v));
  }
  return out;
}

bool contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

std::string origin_of(const http::ParsedUrl& url) {
  const bool default_port =
      (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  const std::string host =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  return url.scheme + "://" + host + (default_port ? "" : ":" + std::to_string(url.port));
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string describe_failure(const http::FetchResult& r) {
  if (!r.ok) return r.error;
  return "HTTP " + std::to_string(r.status);
}

// kty/crv a key must have to verify `alg`.
bool key_fits(const auth::VerificationKey& key, const std::string& alg) {
  if (!key.alg.empty() && key.alg != alg) return false;
  if (alg.rfind("RS", 0) == 0 || alg.rfind("PS", 0) == 0) return key.kty == "RSA";
  if (alg == "ES256") return key.kty == "EC" && key.crv == "P-256";
  if (alg == "ES384") return key.kty == "EC" && key.crv == "P-384";
  if (alg == "ES512") return key.kty == "EC" && key.crv == "P-521";
  if (alg == "EdDSA") return key.kty == "OKP";
  return false;
}

void Checker::check_route(const config::Config& config, const config::Route& route) {
  check_resource(config, route);
  check_prm(config, route);
  for (const auto& name : route.auth.providers) {
    auto it = config.providers.find(name);
    if (it == config.providers.end()) continue;  // the loader refuses this already
    const config::Provider& provider = it->second;
    std::string discovered;
    if (provider.jwks_file.empty()) {
      discovered = check_authorization_server(route, provider);
    } else {
      // Tokens signed with a local key come from `dev-token`, not from an
      // authorization server: there is nothing to discover.
      add(Severity::kInfo, route.path_prefix, "as.file_key",
          "provider " + provider.name + ": keys from the local file " + provider.jwks_file +
              "; interactive OAuth clients cannot log in with a dev key; use "
              "`mcp-auth-gateway dev-token`");
    }
    check_jwks(route, provider, discovered);
    check_audience(route, it->second);
  }
  const auto& origins = config.cors.allowed_origins;
  if (!contains(origins, "*")) {
    add(
        Severity::kInfo, route.path_prefix, "cors",
        "browser-based MCP clients are only allowed from: " + [&] {
          std::string list;
          for (const auto& o : origins) list += (list.empty() ? "" : ", ") + o;
          return list.empty() ? std::string("(none)") : list;
        }());
  }
}

void Checker::check_resource(const config::Config& config, const config::Route& route) {
  const std::string& p = route.path_prefix;
  http::ParsedUrl url;
  if (!http::parse_url(route.resource, &url)) {
    add(Severity::kError, p, "resource.url", "resource '" + route.resource + "' is not a URL");
    return;
  }
  std::string path = url.path_and_query;
  if (path == p) {
    add(Severity::kOk, p, "resource.path", "resource path matches the route prefix " + p);
  } else if (path == p + "/" || path + "/" == p) {
    add(Severity::kWarning, p, "resource.trailing_slash",
        "resource path '" + path + "' and route prefix '" + p +
            "' differ in a trailing slash: clients compare the resource byte for byte");
  } else if (!(path == "/" && route.resource.back() != '/')) {
    add(Severity::kWarning, p, "resource.path",
        "resource path '" + path + "' differs from the route prefix '" + p +
            "' (fine behind a path-rewriting proxy, otherwise clients request the wrong URL)");
  }
  const bool any_tls =
      std::any_of(config.listeners.begin(), config.listeners.end(),
                  [](const config::Listener& l) { return !l.tls_certificate.empty(); });
  if (url.scheme == "http" && !is_loopback(url.host)) {
    add(Severity::kWarning, p, "resource.scheme",
        "resource uses http on a non-loopback host: MCP requires https for authorization");
  }
  if (url.scheme == "https" && !any_tls) {
    add(Severity::kInfo, p, "resource.scheme",
        "resource is https but no listener has TLS: expected behind a TLS-terminating proxy");
  }
  if (is_loopback(url.host)) {
    bool port_matches = false;
    for (const auto& l : config.listeners) {
      std::string host;
      uint16_t port = 0;
      if (http::split_host_port(l.address, &host, &port) && port == url.port) port_matches = true;
    }
    if (!port_matches) {
      add(Severity::kWarning, p, "resource.port",
          "resource " + route.resource + " points at port " + std::to_string(url.port) +
              " on this host, which is not a listener port");
    }
  }
}

// Returns the authorization servers the PRM names.
std::vector<std::string> Checker::check_prm(const config::Config& config,
                                            const config::Route& route) {
  const std::string& p = route.path_prefix;
  http::ParsedUrl url;
  std::vector<std::string> servers;
  if (!http::parse_url(route.resource, &url)) return servers;
  const std::string origin = origin_of(url);
  const std::string inserted = origin + route.metadata_path;
  const std::string root = origin + std::string(kProtectedResourceMetadataRoot);
  http::FetchResult r = fetch_(inserted, "");
  JsonPtr doc;
  if (!r.ok) {
    add(Severity::kInfo, p, "prm.reachable",
        "gateway not reachable at " + inserted + " (" + r.error +
            "); checking the document built from the config");
    doc = parse_object(protected_resource_metadata_json(route, config));
  } else if (r.status != 200) {
    add(Severity::kError, p, "prm.path_inserted",
        inserted + " answered HTTP " + std::to_string(r.status) +
            ": clients cannot discover the AS");
    doc = parse_object(protected_resource_metadata_json(route, config));
  } else {
    doc = parse_object(r.body);
    if (!doc) {
      add(Severity::kError, p, "prm.path_inserted", inserted + " is not a JSON object");
      return servers;
    }
    add(Severity::kOk, p, "prm.path_inserted",
        inserted + " serves the protected resource metadata");
    http::FetchResult root_result = fetch_(root, "");
    JsonPtr root_doc =
        root_result.ok && root_result.status == 200 ? parse_object(root_result.body) : nullptr;
    if (!root_doc) {
      add(Severity::kWarning, p, "prm.root",
          root + " does not serve metadata (" + describe_failure(root_result) +
              "): clients that only try the root location will not find the AS");
    } else if (member(root_doc.get(), "resource") != route.resource) {
      add(Severity::kInfo, p, "prm.root",
          root + " describes '" + member(root_doc.get(), "resource") +
              "' (another route owns the root document)");
    } else {
      add(Severity::kOk, p, "prm.root", root + " serves this route's metadata too");
    }
  }
  if (!doc) return servers;
  const std::string resource = member(doc.get(), "resource");
  if (resource != route.resource) {
    add(Severity::kError, p, "prm.resource",
        "metadata resource '" + resource + "' is not the route's resource '" + route.resource +
            "': clients must reject it (RFC 9728 section 3.3)");
  }
  servers = string_members(doc.get(), "authorization_servers");
  if (servers.empty()) {
    add(Severity::kError, p, "prm.authorization_servers", "metadata names no authorization server");
  }
  return servers;
}

std::string Checker::check_authorization_server(const config::Route& route,
                                                const config::Provider& provider) {
  const std::string& p = route.path_prefix;
  const std::string where = "provider " + provider.name + ": ";
  JsonPtr metadata;
  std::string found_at, tried;
  for (const auto& url : authorization_server_metadata_urls(provider.issuer)) {
    http::FetchResult r = fetch_(url, provider.ca_file);
    if (r.ok && r.status == 200) metadata = parse_object(r.body);
    if (metadata) {
      found_at = url;
      break;
    }
    tried += (tried.empty() ? " " : "; ") + url + " -> " + describe_failure(r);
  }
  if (!metadata) {
    add(Severity::kError, p, "as.metadata",
        where + "no authorization server metadata for issuer " + provider.issuer +
            "; tried:" + tried);
    return "";
  }
  add(Severity::kOk, p, "as.metadata", where + "metadata at " + found_at);
  const std::string issuer = member(metadata.get(), "issuer");
  if (issuer != provider.issuer) {
    add(Severity::kError, p, "as.issuer",
        where + "metadata issuer '" + issuer + "' is not the configured issuer '" +
            provider.issuer +
            "': clients must reject it (RFC 8414 section 3.3) and tokens will not match");
  } else {
    add(Severity::kOk, p, "as.issuer", where + "issuer echoed exactly");
  }
  if (!contains(string_members(metadata.get(), "code_challenge_methods_supported"), "S256")) {
    add(Severity::kError, p, "as.pkce",
        where + "code_challenge_methods_supported lacks S256: MCP clients must refuse this AS");
  } else {
    add(Severity::kOk, p, "as.pkce", where + "S256 PKCE supported");
  }
  const std::string jwks_uri = member(metadata.get(), "jwks_uri");
  if (jwks_uri.empty()) {
    add(Severity::kWarning, p, "as.jwks_uri", where + "metadata publishes no jwks_uri");
  } else if (!provider.jwks_uri.empty() && jwks_uri != provider.jwks_uri) {
    add(Severity::kWarning, p, "as.jwks_uri",
        where + "metadata jwks_uri " + jwks_uri + " differs from the configured " +
            provider.jwks_uri);
  }
  json_t* cimd = json_object_get(metadata.get(), "client_id_metadata_document_supported");
  if (!member(metadata.get(), "registration_endpoint").empty()) {
    add(Severity::kOk, p, "as.registration", where + "dynamic client registration available");
  } else if (json_is_true(cimd)) {
    add(Severity::kOk, p, "as.registration", where + "client ID metadata documents supported");
  } else {
    add(Severity::kWarning, p, "as.registration",
        where + "no registration_endpoint and no CIMD support: clients must be pre-registered");
  }
  return jwks_uri;
}

void Checker::check_jwks(const config::Route& route, const config::Provider& provider,
                         const std::string& discovered_jwks_uri) {
  const std::string& p = route.path_prefix;
  const std::string where = "provider " + provider.name + ": ";
  std::string text;
  // Neither jwks_uri nor jwks_file: the gateway discovers it as we did.
  const std::string uri = provider.jwks_file.empty() && provider.jwks_uri.empty()
                              ? discovered_jwks_uri
                              : provider.jwks_uri;
  const std::string source = uri.empty() ? provider.jwks_file : uri;
  if (source.empty()) {
    add(Severity::kError, p, "jwks.fetch",
        where + "no jwks_uri configured and none discovered: no token can be verified");
    return;
  }
  if (!uri.empty()) {
    http::FetchResult r = fetch_(uri, provider.ca_file);
    if (!r.ok || r.status != 200) {
      add(Severity::kError, p, "jwks.fetch",
          where + "JWKS " + source + " unavailable (" + describe_failure(r) +
              "): no token can be verified");
      return;
    }
    text = std::move(r.body);
  } else {
    std::ifstream in(provider.jwks_file, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (!in) {
      add(Severity::kError, p, "jwks.fetch", where + "cannot read " + source);
      return;
    }
    text = buffer.str();
  }
  auth::JwksParseResult parsed = auth::parse_jwks(text);
  if (!parsed.keys) {
    add(Severity::kError, p, "jwks.parse", where + source + ": " + parsed.error);
    return;
  }
  add(Severity::kOk, p, "jwks.fetch",
      where + std::to_string(parsed.keys->keys().size()) + " usable key(s) from " + source);
  // An algorithm without a key only refuses the tokens that use it; no
  // algorithm with a key refuses every token.
  size_t usable = 0;
  const auto& keys = parsed.keys->keys();
  for (const auto& alg : provider.algorithms) {
    if (std::any_of(keys.begin(), keys.end(), [&](const auto& k) { return key_fits(k, alg); })) {
      ++usable;
      continue;
    }
    add(Severity::kWarning, p, "jwks.algorithms",
        where + "no key in the JWKS can verify " + alg + " (listed in algorithms)");
  }
  if (usable == 0) {
    add(Severity::kError, p, "jwks.algorithms",
        where + "no key in the JWKS matches any configured algorithm: every token is refused");
  }
}

// Once per upstream and URL: routes that share an upstream share its
// answer, while two upstreams at one URL (other TLS settings or
// credentials) are each checked.
McpInitializeAnswer Checker::initialize(const std::string& upstream, const McpProbeTarget& target) {
  const std::string key = upstream + " " + target.url;
  if (auto it = answers_.find(key); it != answers_.end()) return it->second;
  http::FetchOptions options;
  options.upstream_tls = target.tls;
  McpInitializeAnswer answer =
      read_initialize_answer(send_(mcp_initialize_request(target), options));
  if (!answer.session_id.empty()) {
    // Best effort: the session the check opened is not needed any more.
    send_(mcp_session_delete_request(
              target, answer.session_id,
              answer.protocol_version.empty() ? kProbeProtocolVersion : answer.protocol_version),
          options);
  }
  answers_.emplace(key, answer);
  return answer;
}

void Checker::check_upstream(const config::Config& config, const config::Route& route) {
  auto it = config.upstreams.find(route.upstream);
  if (it == config.upstreams.end()) return;  // the loader refuses this already
  const config::Upstream& upstream = it->second;
  std::string authorization;
  if (upstream.client_credentials || upstream.token_exchange) {
    auto [checked, first] = token_checks_.try_emplace(route.upstream);
    if (first) {
      checked->second =
          check_upstream_token(upstream, send_, static_cast<int64_t>(std::time(nullptr)));
      add(checked->second.severity, route.path_prefix, "upstream.token",
          "upstream " + route.upstream + ": " + checked->second.message);
    }
    if (upstream.token_exchange) {
      add(Severity::kInfo, route.path_prefix, "upstream.mcp",
          "upstream " + route.upstream +
              ": not probed (token_exchange: its token is made from a caller's token)");
      return;
    }
    if (checked->second.authorization.empty()) return;  // upstream.token said why
    authorization = checked->second.authorization;
  }
  for (auto target : mcp_probe_targets(route, upstream)) {
    if (!authorization.empty()) target.credentials.emplace_back("Authorization", authorization);
    const McpInitializeAnswer answer = initialize(route.upstream, target);
    const std::string where = "upstream " + route.upstream + " at " + target.url + ": ";
    if (!answer.healthy) {
      add(Severity::kError, route.path_prefix, "upstream.mcp", where + answer.problem);
      continue;
    }
    add(Severity::kOk, route.path_prefix, "upstream.mcp",
        where + "MCP server " + (answer.server_name.empty() ? "(no name)" : answer.server_name) +
            " " + (answer.server_version.empty() ? "(no version)" : answer.server_version) +
            ", protocol " + answer.protocol_version);
  }
}

void Checker::check_audience(const config::Route& route, const config::Provider& provider) {
  if (provider.audiences.empty()) {
    add(Severity::kInfo, route.path_prefix, "audience",
        "provider " + provider.name + ": tokens must carry aud=" + route.resource +
            " (the IdP must support RFC 8707 resource indicators)");
    return;
  }
  for (const auto& audience : provider.audiences) {
    if (audience == route.resource) continue;
    add(Severity::kWarning, route.path_prefix, "audience",
        "provider " + provider.name + " also accepts aud='" + audience +
            "', which is not this route's resource: a token the IdP minted for that audience "
            "(e.g. Asgardeo puts the client id in aud) is accepted here without being bound to " +
            route.resource);
  }
}

}  // namespace

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kOk:
      return "ok";
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "info";
}

size_t DoctorReport::count(Severity s) const {
  return static_cast<size_t>(std::count_if(findings.begin(), findings.end(),
                                           [s](const Finding& f) { return f.severity == s; }));
}

std::vector<std::string> authorization_server_metadata_urls(const std::string& issuer) {
  http::ParsedUrl url;
  if (!http::parse_url(issuer, &url)) return {};
  const std::string origin = origin_of(url);
  std::string path = url.path_and_query;
  if (path == "/") path.clear();
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.empty()) {
    return {origin + std::string(kAsMetadata), origin + std::string(kOidcMetadata)};
  }
  std::string trimmed_issuer = issuer;
  while (!trimmed_issuer.empty() && trimmed_issuer.back() == '/') trimmed_issuer.pop_back();
  return {origin + std::string(kAsMetadata) + path, origin + std::string(kOidcMetadata) + path,
          trimmed_issuer + std::string(kOidcMetadata)};
}

DoctorReport run_doctor(const config::Config& config, const DoctorFetch& fetch,
                        const DoctorSend& send) {
  DoctorReport report;
  report.config_path = config.source;
  Checker checker(&report, fetch, send);
  size_t protected_routes = 0;
  for (const auto& route : config.routes) {
    if (!route.auth.enabled) {
      checker.add(Severity::kInfo, route.path_prefix, "auth",
                  "route has auth: none; authorization not checked");
    } else {
      ++protected_routes;
      checker.check_route(config, route);
    }
    checker.check_upstream(config, route);
  }
  if (protected_routes == 0) {
    checker.add(Severity::kWarning, "", "routes", "no route requires authorization");
  }
  return report;
}

namespace {

http::FetchResult blocking_fetch(http::FetchRequest request, http::FetchOptions options) {
  EventBasePtr base(event_base_new());
  http::FetchResult out;
  if (!base) {
    out.kind = http::FetchError::kInvalid;
    out.error = "cannot create an event loop";
    return out;
  }
  bool done = false;
  auto fetch =
      http::http_request(base.get(), std::move(request), options, [&](http::FetchResult r) {
        out = std::move(r);
        done = true;
      });
  while (!done && event_base_loop(base.get(), EVLOOP_ONCE) == 0) {
  }
  if (!done) {
    out.kind = http::FetchError::kInvalid;
    out.error = "event loop ended before the fetch";
  }
  return out;
}

}  // namespace

http::FetchResult blocking_get(const std::string& url, const std::string& ca_file) {
  http::FetchRequest request;
  request.url = url;
  http::FetchOptions options;
  options.ca_file = ca_file;
  return blocking_fetch(std::move(request), std::move(options));
}

http::FetchResult blocking_request(const http::FetchRequest& request,
                                   const http::FetchOptions& options) {
  return blocking_fetch(request, options);
}

std::string format_report_text(const DoctorReport& report) {
  std::string out = "mcp-auth-gateway doctor: " + report.config_path + "\n";
  std::string current_route = "\x01";
  for (const auto& f : report.findings) {
    if (f.route != current_route) {
      current_route = f.route;
      out += "\nroute " + (f.route.empty() ? std::string("(config)") : f.route) + "\n";
    }
    std::string tag = std::string(severity_name(f.severity));
    for (auto& c : tag) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    tag.resize(8, ' ');
    out += "  " + tag + f.check + ": " + f.message + "\n";
  }
  out += "\nsummary: " + std::to_string(report.count(Severity::kError)) + " error(s), " +
         std::to_string(report.count(Severity::kWarning)) + " warning(s), " +
         std::to_string(report.count(Severity::kOk)) + " ok\n";
  return out;
}

std::string format_report_json(const DoctorReport& report) {
  JsonPtr doc = json_own(json_object());
  json_object_set_new(doc.get(), "config", json_string(report.config_path.c_str()));
  json_t* findings = json_array();
  for (const auto& f : report.findings) {
    json_t* entry = json_object();
    json_object_set_new(entry, "severity",
                        json_string(std::string(severity_name(f.severity)).c_str()));
    json_object_set_new(entry, "route", json_stringn(f.route.data(), f.route.size()));
    json_object_set_new(entry, "check", json_stringn(f.check.data(), f.check.size()));
    json_object_set_new(entry, "message", json_stringn(f.message.data(), f.message.size()));
    json_array_append_new(findings, entry);
  }
  json_object_set_new(doc.get(), "findings", findings);
  json_t* summary = json_object();
  json_object_set_new(summary, "errors",
                      json_integer(static_cast<json_int_t>(report.count(Severity::kError))));
  json_object_set_new(summary, "warnings",
                      json_integer(static_cast<json_int_t>(report.count(Severity::kWarning))));
  json_object_set_new(summary, "ok",
                      json_integer(static_cast<json_int_t>(report.count(Severity::kOk))));
  json_object_set_new(doc.get(), "summary", summary);
  return json::to_json_string(doc.get(), JSON_INDENT(2) | JSON_PRESERVE_ORDER).value_or("{}") +
         "\n";
}

int doctor_main(const std::vector<std::string>& args) {
  std::string config_path;
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--config" || args[i] == "-c") && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (args[i] == "--json") {
      as_json = true;
    } else {
      fprintf(stderr, "usage: mcp-auth-gateway doctor --config FILE [--json]\n");
      return 2;
    }
  }
  if (config_path.empty()) {
    fprintf(stderr, "usage: mcp-auth-gateway doctor --config FILE [--json]\n");
    return 2;
  }
  auto loaded = config::load_file(config_path);
  if (loaded.error) {
    fprintf(stderr, "%s\n", loaded.error->message.c_str());
    return 2;
  }
  DoctorReport report = run_doctor(*loaded.config, blocking_get, blocking_request);
  const std::string text = as_json ? format_report_json(report) : format_report_text(report);
  fwrite(text.data(), 1, text.size(), stdout);
  return report.count(Severity::kError) ? 1 : 0;
}

}  // namespace mag::proxy
