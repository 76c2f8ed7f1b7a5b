#include "proxy/config/routes_loader.h"

#include <algorithm>

#include "proxy/config/header_names.h"
#include "proxy/config/mcp_methods.h"
#include "proxy/config/value_syntax.h"

namespace mag::config {

RouteAuth RoutesLoader::load_route_auth(const YAML::Node* node, const YAML::Node& route_node,
                                        const std::string& path, const Config& config) const {
  RouteAuth auth;
  const YAML::Node& where = node ? *node : route_node;
  if (node && node->IsScalar()) {
    const std::string value = yaml_.string(*node, path);
    if (value != "none") yaml_.fail(*node, path, "expected 'none' or a map, got '" + value + "'");
    auth.enabled = false;
    return auth;
  }
  std::map<std::string, Field> fields;
  if (node) {
    fields = yaml_.read_map(
        *node, path,
        {"providers", "scopes", "tools", "methods", "prompts", "resources", "allow_missing"});
  }

  if (auto it = fields.find("providers"); it != fields.end()) {
    const YAML::Node list = it->second.value;
    auth.providers = yaml_.string_list(list, path + ".providers");
    if (auth.providers.empty()) yaml_.fail(list, path + ".providers", "must not be empty");
    for (size_t i = 0; i < auth.providers.size(); ++i) {
      if (!config.providers.count(auth.providers[i])) {
        yaml_.fail(list[i], path + ".providers[" + std::to_string(i) + "]",
                   "unknown provider '" + auth.providers[i] + "'");
      }
    }
  } else if (config.providers.size() == 1) {
    auth.providers.push_back(config.providers.begin()->first);
  } else {
    yaml_.fail(
        where, path,
        config.providers.empty()
            ? "auth is enabled but no providers are configured (use 'auth: none' to disable it)"
            : "several providers are configured: list this route's in 'providers'");
  }

  if (auto it = fields.find("scopes"); it != fields.end()) {
    auth.scopes = yaml_.scope_list(it->second.value, path + ".scopes");
  }
  // `name: [scopes]` or `name: deny`; "*" is the default for unlisted names.
  auto load_rules = [&](const char* key, std::map<std::string, std::vector<std::string>>* scoped,
                        std::vector<std::string>* denied) {
    auto it = fields.find(key);
    if (it == fields.end()) return;
    for (const auto& [name, field] : yaml_.read_map(it->second.value, path + "." + key)) {
      const std::string rule_path = path + "." + key + "." + name;
      if (name.empty() || has_control_or_space(name))
        yaml_.fail(field.key, rule_path, "invalid name");
      if (std::string_view(key) == "methods") {
        if (std::string error = method_rule_error(name); !error.empty())
          yaml_.fail(field.key, rule_path, error);
      }
      if (field.value.IsScalar()) {
        if (yaml_.string(field.value, rule_path) != "deny") {
          yaml_.fail(field.value, rule_path, "expected a list of scopes or 'deny'");
        }
        denied->push_back(name);
        continue;
      }
      scoped->emplace(name, yaml_.scope_list(field.value, rule_path));
    }
  };
  load_rules("tools", &auth.tools, &auth.denied_tools);
  load_rules("methods", &auth.methods, &auth.denied_methods);
  load_rules("prompts", &auth.prompts, &auth.denied_prompts);
  load_rules("resources", &auth.resources, &auth.denied_resources);
  // A resource key is an exact URI or a prefix ending in `*`: a `*` anywhere
  // else would read as a wildcard that matches nothing.
  if (auto it = fields.find("resources"); it != fields.end()) {
    for (const auto& [uri, field] : yaml_.read_map(it->second.value, path + ".resources")) {
      if (uri.find('*') < uri.size() - 1) {
        yaml_.fail(field.key, path + ".resources." + uri,
                   "'*' may only end a resource pattern (a URI prefix)");
      }
    }
  }
  if (auto it = fields.find("allow_missing"); it != fields.end()) {
    const std::string value = yaml_.string(it->second.value, path + ".allow_missing");
    if (value != "true" && value != "false") {
      yaml_.fail(it->second.value, path + ".allow_missing", "expected true or false");
    }
    auth.allow_missing = value == "true";
  }
  return auth;
}

// path_prefix and prefix_rewrite: an absolute path of plain segments, so
// matching and rewriting never meet an escape, a dot-dot or an empty segment.
std::string RoutesLoader::plain_path(const YAML::Node& node, const std::string& path) const {
  std::string p = yaml_.string(node, path);
  if (p.empty() || p.front() != '/') yaml_.fail(node, path, "must start with '/'");
  if (has_control_or_space(p) || p.find_first_of("?#\\%") != std::string::npos ||
      p.find("//") != std::string::npos) {
    yaml_.fail(node, path, "must be a plain path (no spaces, '?', '#', '%', '\\' or '//')");
  }
  for (size_t start = 1; start < p.size();) {
    size_t end = std::min(p.find('/', start), p.size());
    const std::string_view segment = std::string_view(p).substr(start, end - start);
    if (segment == "." || segment == "..") {
      yaml_.fail(node, path, "must not contain '.' or '..' segments");
    }
    start = end + 1;
  }
  if (p.size() > 1 && p.back() == '/') {
    yaml_.fail(node, path,
               "must not end with '/' (write '" + p.substr(0, p.size() - 1) +
                   "': a prefix covers that path and everything below it)");
  }
  return p;
}

Route RoutesLoader::load_route(const YAML::Node& node, const std::string& path,
                               const Config& config) const {
  auto fields =
      yaml_.read_map(node, path,
                     {"path_prefix", "prefix_rewrite", "upstream", "resource", "resource_name",
                      "auth", "claim_to_headers", "forward_payload_header", "timeouts"});
  Route route;
  // Per-route overrides of the upstream's timeouts: same names, same ranges.
  if (auto it = fields.find("timeouts"); it != fields.end()) {
    const std::string where = path + ".timeouts";
    auto timeouts = yaml_.read_map(it->second.value, where,
                                   {"connect_timeout", "response_header_timeout", "idle_timeout"});
    auto seconds = [&](const char* key, int64_t min, int64_t max,
                       std::optional<std::chrono::milliseconds>* out) {
      if (auto f = timeouts.find(key); f != timeouts.end()) {
        *out = std::chrono::seconds(yaml_.integer(f->second.value, where + "." + key, min, max));
      }
    };
    seconds("connect_timeout", 1, 300, &route.timeouts.connect_timeout);
    seconds("response_header_timeout", 1, 3600, &route.timeouts.response_header_timeout);
    seconds("idle_timeout", 0, 86400, &route.timeouts.idle_timeout);
  }
  // Identity headers (JWT-CLM-16): validated names only, so nothing
  // odd reaches the upstream, and never a field the gateway or the HTTP
  // framing owns (overwriting Host, Content-Length or a hop-by-hop field
  // would change how the upstream reads the request).
  std::vector<std::string> identity_names;  // lower case, to refuse duplicates
  auto header_name = [&](const YAML::Node& value, const std::string& where) {
    std::string name = yaml_.non_empty_string(value, where);
    const bool token =
        name.size() <= 256 && std::all_of(name.begin(), name.end(), [](unsigned char ch) {
          return std::isalnum(ch) || ch == '-' || ch == '_';
        });
    if (!token) {
      yaml_.fail(value, where, "'" + name + "' is not a header name (letters, digits, '-', '_')");
    }
    const std::string lower = lower_ascii(name);
    // Identity headers are never credentials: Authorization and Cookie are
    // refused here besides the fields the gateway owns.
    if (is_gateway_owned_header(name) || lower == "authorization" || lower == "cookie") {
      yaml_.fail(value, where, "'" + name + "' is a header the gateway must not overwrite");
    }
    for (const auto& [upstream_name, upstream] : config.upstreams) {
      for (const auto& credential : upstream.credential_headers) {
        if (lower_ascii(credential.name) == lower) {
          yaml_.fail(value, where,
                     "'" + name + "' is a credential header of upstream '" + upstream_name + "'");
        }
      }
    }
    if (std::find(identity_names.begin(), identity_names.end(), lower) != identity_names.end()) {
      yaml_.fail(value, where, "header '" + name + "' is already used by this route");
    }
    identity_names.push_back(lower);
    return name;
  };
  if (auto it = fields.find("claim_to_headers"); it != fields.end()) {
    for (const auto& [claim, field] :
         yaml_.read_map(it->second.value, path + ".claim_to_headers")) {
      const std::string where = path + ".claim_to_headers." + claim;
      if (claim.empty() || claim.size() > 256 || has_control_or_space(claim)) {
        yaml_.fail(field.key, where, "invalid claim name");
      }
      route.claim_to_headers.push_back({claim, header_name(field.value, where)});
    }
  }
  if (auto it = fields.find("forward_payload_header"); it != fields.end()) {
    route.forward_payload_header = header_name(it->second.value, path + ".forward_payload_header");
  }

  auto prefix = fields.find("path_prefix");
  if (prefix == fields.end()) yaml_.fail(node, path, "missing required key 'path_prefix'");
  route.path_prefix = plain_path(prefix->second.value, path + ".path_prefix");
  if (auto rewrite = fields.find("prefix_rewrite"); rewrite != fields.end()) {
    route.prefix_rewrite = plain_path(rewrite->second.value, path + ".prefix_rewrite");
  }

  auto upstream = fields.find("upstream");
  if (upstream == fields.end()) yaml_.fail(node, path, "missing required key 'upstream'");
  route.upstream = yaml_.string(upstream->second.value, path + ".upstream");
  if (!config.upstreams.count(route.upstream)) {
    yaml_.fail(upstream->second.value, path + ".upstream",
               "unknown upstream '" + route.upstream + "'");
  }

  const auto auth = fields.find("auth");
  route.auth = load_route_auth(auth == fields.end() ? nullptr : &auth->second.value, node,
                               path + ".auth", config);

  if (auto name = fields.find("resource_name"); name != fields.end()) {
    route.resource_name = yaml_.non_empty_string(name->second.value, path + ".resource_name");
  }

  auto resource = fields.find("resource");
  if (resource == fields.end()) {
    if (route.auth.enabled) {
      yaml_.fail(node, path,
                 "missing required key 'resource' (the public URL of this route, e.g. "
                 "https://gateway.example.com" +
                     route.path_prefix + "; required when auth is enabled)");
    }
    return route;
  }
  route.resource = yaml_.non_empty_string(resource->second.value, path + ".resource");
  Url url;
  if (auto reason = parse_url(route.resource, &url); !reason.empty()) {
    yaml_.fail(resource->second.value, path + ".resource", "'" + route.resource + "' " + reason);
  }
  // RFC 9728 §3.1: insert the well-known segment between the authority and
  // the path; an origin-only resource ("https://h" or "https://h/") maps to the root.
  const std::string resource_path = url.path == "/" ? "" : url.path;
  route.metadata_path = "/.well-known/oauth-protected-resource" + resource_path;
  route.resource_metadata_url = url.scheme + "://" + url.authority + route.metadata_path;
  return route;
}

void RoutesLoader::load(const YAML::Node& node, Config* config) const {
  yaml_.require_sequence(node, "routes");
  if (node.size() == 0) yaml_.fail(node, "routes", "at least one route is required");
  std::map<std::string, size_t> prefixes, metadata_paths;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "routes[" + std::to_string(i) + "]";
    Route route = load_route(node[i], path, *config);
    if (auto [it, inserted] = prefixes.emplace(route.path_prefix, i); !inserted) {
      yaml_.fail(node[i]["path_prefix"], path + ".path_prefix",
                 "duplicate path_prefix '" + route.path_prefix + "' (also routes[" +
                     std::to_string(it->second) + "])");
    }
    if (route.auth.enabled) {
      if (auto [it, inserted] = metadata_paths.emplace(route.metadata_path, i); !inserted) {
        yaml_.fail(node[i]["resource"], path + ".resource",
                   "resource '" + route.resource + "' has the same metadata path '" +
                       route.metadata_path + "' as routes[" + std::to_string(it->second) +
                       "]: give each protected route its own resource path");
      }
    }
    // Every route strips every route's identity headers (JWT-CLM-16): a
    // client must not reach an upstream with X-MCP-Subject through a public
    // route either.
    for (const auto& mapping : route.claim_to_headers) {
      config->identity_header_names.push_back(mapping.header);
    }
    if (!route.forward_payload_header.empty()) {
      config->identity_header_names.push_back(route.forward_payload_header);
    }
    config->routes.push_back(std::move(route));
  }
}

}  // namespace mag::config
