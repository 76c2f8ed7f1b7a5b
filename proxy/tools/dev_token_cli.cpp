#include "proxy/tools/dev_token_cli.h"

#include <cstdio>
#include <filesystem>

#include "proxy/config/config.h"
#include "proxy/tools/dev_token.h"

namespace mag::proxy {
namespace {

constexpr const char* kHelp =
    "usage: mcp-auth-gateway dev-token [--config FILE] [--key FILE] [--iss ISSUER]\n"
    "         [--aud AUDIENCE] [--sub SUBJECT] [--scope \"a b\"] [--client-id ID]\n"
    "         [--ttl 1h] [--print-resource]\n"
    "DEVELOPMENT ONLY: signs an RS256 access token with a local private key.\n"
    "With --config, --iss/--aud/--key default to the first provider that has a\n"
    "jwks_file (key: dev-signing-key.jwk.json next to that JWKS) and to the\n"
    "resource of the first route it protects. The token is printed on stdout.\n";

struct Options {
  std::string config_path;
  bool print_resource = false;
  auth::DevTokenRequest request;
};

// Fills issuer, audience and key file from the config where not given.
bool apply_config(Options& o, std::string* error) {
  auto loaded = config::load_file(o.config_path);
  if (loaded.error) {
    *error = loaded.error->message;
    return false;
  }
  const config::Config& c = *loaded.config;
  for (const auto& route : c.routes) {
    if (!route.auth.enabled) continue;
    for (const auto& name : route.auth.providers) {
      const config::Provider& p = c.providers.at(name);
      if (p.jwks_file.empty()) continue;
      if (o.request.issuer.empty()) o.request.issuer = p.issuer;
      if (o.request.audience.empty()) o.request.audience = route.resource;
      if (o.request.key_file.empty()) {
        o.request.key_file =
            (std::filesystem::path(p.jwks_file).parent_path() / "dev-signing-key.jwk.json").string();
      }
      return true;
    }
  }
  *error = o.config_path + ": no protected route uses a provider with a jwks_file";
  return false;
}

}  // namespace

int dev_token_main(const std::vector<std::string>& args) {
  Options o;
  o.request.subject = "dev-user";
  o.request.client_id = "mcp-auth-gateway-dev";
  std::string ttl = "1h";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      printf("%s", kHelp);
      return 0;
    }
    if (a == "--print-resource") {
      o.print_resource = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      fprintf(stderr, "dev-token: '%s' needs a value\n%s", a.c_str(), kHelp);
      return 2;
    }
    const std::string& v = args[++i];
    if (a == "--config") o.config_path = v;
    else if (a == "--key") o.request.key_file = v;
    else if (a == "--iss") o.request.issuer = v;
    else if (a == "--aud") o.request.audience = v;
    else if (a == "--sub") o.request.subject = v;
    else if (a == "--scope") o.request.scopes = v;
    else if (a == "--client-id") o.request.client_id = v;
    else if (a == "--ttl") ttl = v;
    else {
      fprintf(stderr, "dev-token: unknown option '%s'\n%s", a.c_str(), kHelp);
      return 2;
    }
  }
  std::string error;
  if (!o.config_path.empty() && !apply_config(o, &error)) {
    fprintf(stderr, "dev-token: %s\n", error.c_str());
    return 1;
  }
  if (o.print_resource) {
    printf("%s\n", o.request.audience.c_str());
    return 0;
  }
  o.request.ttl_seconds = auth::parse_ttl_seconds(ttl);
  if (o.request.ttl_seconds <= 0) {
    fprintf(stderr, "dev-token: invalid --ttl '%s'\n", ttl.c_str());
    return 2;
  }
  if (o.request.key_file.empty() || o.request.issuer.empty() || o.request.audience.empty()) {
    fprintf(stderr, "dev-token: --key, --iss and --aud are required (or --config)\n");
    return 2;
  }
  const std::string token = auth::mint_dev_token(o.request, &error);
  if (token.empty()) {
    fprintf(stderr, "dev-token: %s\n", error.c_str());
    return 1;
  }
  printf("%s\n", token.c_str());
  return 0;
}

}  // namespace mag::proxy
