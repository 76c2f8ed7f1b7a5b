// The gateway's configuration model and its YAML loader. Loading validates
// everything; an error names the file, line and column. `${VAR}` and
// `${VAR:-default}` in scalars expand from the environment before parsing.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mag::config {

struct Listener {
  std::string address;  // "0.0.0.0:8000"
};

struct Admin {
  std::string address;  // empty: no admin listener
};

struct Provider {
  std::string name;
  std::string issuer;                  // exact match against `iss`
  std::string jwks_uri;                // http(s) URL, or
  std::string jwks_file;               // a local JWKS file (exactly one of the two)
  std::vector<std::string> audiences;  // accepted `aud` values besides the route resource
  std::vector<std::string> algorithms; // allow-list; default {"RS256"}; never none/HS*
  std::chrono::seconds clock_skew{60};
  std::chrono::seconds jwks_refresh{600};
};

struct Upstream {
  std::string name;
  std::string url;   // http://host:port[/base]
  std::string host;  // parsed from url
  uint16_t port = 0;
  std::string base_path;  // path of the url without trailing '/', may be empty
};

struct RouteAuth {
  bool enabled = true;                 // `auth: none` → false
  std::vector<std::string> providers;  // any of them
  std::vector<std::string> scopes;     // all required
  std::map<std::string, std::vector<std::string>> tools;  // per-tool scopes (issue 4)
};

struct Route {
  std::string path_prefix;  // "/mcp"; matches "/mcp" and "/mcp/..." (segment bound)
  std::string upstream;     // name in `upstreams`
  std::string resource;     // the RFC 9728 resource identifier (public URL of path_prefix)
  std::string resource_name;  // optional, for the PRM document
  RouteAuth auth;
  // Derived at load: absolute URL of this route's PRM (path-inserted form).
  std::string resource_metadata_url;
  // Derived at load: the path-inserted PRM path ("/.well-known/oauth-protected-resource/mcp").
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
  Cors cors;
  std::string log_level = "info";
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
LoadResult load_string(const std::string& yaml, const std::string& source_name = "<string>");

// Expands ${VAR} and ${VAR:-default}; `$$` is a literal `$`. An unset
// variable without default is an error (message names it).
bool expand_env(const std::string& in, std::string* out, std::string* error);

}  // namespace mag::config
