#include "proxy/config/providers_loader.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "proxy/config/value_syntax.h"

namespace mag::config {
namespace {

constexpr std::array<std::string_view, 10> kAllowedAlgorithms = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};

}  // namespace

Provider ProvidersLoader::load_provider(const std::string& name, const YAML::Node& node,
                                        const std::string& path) const {
  auto fields =
      yaml_.read_map(node, path,
                     {"issuer", "jwks_uri", "jwks_file", "audiences", "algorithms", "clock_skew",
                      "jwks_refresh", "ca_file", "token_type", "required_claims", "max_lifetime",
                      "require_exp", "token_cache_size"});
  Provider provider;
  provider.name = name;
  auto issuer = fields.find("issuer");
  if (issuer == fields.end()) yaml_.fail(node, path, "missing required key 'issuer'");
  provider.issuer = yaml_.non_empty_string(issuer->second.value, path + ".issuer");
  if (has_control_or_space(provider.issuer)) {
    yaml_.fail(issuer->second.value, path + ".issuer",
               "must not contain spaces or control characters");
  }

  auto uri = fields.find("jwks_uri");
  auto file = fields.find("jwks_file");
  if (uri != fields.end() && file != fields.end()) {
    yaml_.fail(node, path,
               "exactly one of 'jwks_uri' and 'jwks_file' may be set (or neither, to discover "
               "jwks_uri from the issuer)");
  }
  if (uri == fields.end() && file == fields.end()) {
    // Discovery from the issuer's metadata: the issuer must be a URL we may fetch.
    Url url;
    if (auto reason = parse_url(provider.issuer, &url); !reason.empty()) {
      yaml_.fail(
          issuer->second.value, path + ".issuer",
          "without jwks_uri or jwks_file the issuer must be an http(s) URL for discovery: '" +
              provider.issuer + "' " + reason);
    }
    const bool loopback = provider.issuer.starts_with("http://localhost") ||
                          provider.issuer.starts_with("http://127.0.0.1");
    if (!provider.issuer.starts_with("https://") && !loopback) {
      yaml_.fail(issuer->second.value, path + ".issuer",
                 "discovery needs an https issuer (http only for localhost/127.0.0.1)");
    }
  }
  if (uri != fields.end()) {
    provider.jwks_uri = yaml_.non_empty_string(uri->second.value, path + ".jwks_uri");
    Url url;
    if (auto reason = parse_url(provider.jwks_uri, &url); !reason.empty()) {
      yaml_.fail(uri->second.value, path + ".jwks_uri", "'" + provider.jwks_uri + "' " + reason);
    }
  } else if (file != fields.end()) {
    provider.jwks_file = yaml_.file_path(file->second.value, path + ".jwks_file");
  }

  if (auto it = fields.find("audiences"); it != fields.end()) {
    provider.audiences = yaml_.string_list(it->second.value, path + ".audiences");
  }
  if (auto it = fields.find("algorithms"); it != fields.end()) {
    const std::string algs_path = path + ".algorithms";
    yaml_.require_sequence(it->second.value, algs_path);
    if (it->second.value.size() == 0) yaml_.fail(it->second.value, algs_path, "must not be empty");
    provider.algorithms.clear();
    for (size_t i = 0; i < it->second.value.size(); ++i) {
      const YAML::Node item = it->second.value[i];
      const std::string item_path = algs_path + "[" + std::to_string(i) + "]";
      const std::string alg = yaml_.string(item, item_path);
      if (alg == "none" || alg == "None" || alg == "NONE") {
        yaml_.fail(item, item_path, "algorithm 'none' is refused: it would accept unsigned tokens");
      }
      if (alg.size() >= 2 && (alg[0] == 'H' || alg[0] == 'h') && (alg[1] == 'S' || alg[1] == 's')) {
        yaml_.fail(item, item_path,
                   "symmetric algorithm '" + alg +
                       "' is refused: with a public JWKS the public key would act as an HMAC "
                       "secret (algorithm confusion)");
      }
      if (std::find(kAllowedAlgorithms.begin(), kAllowedAlgorithms.end(), alg) ==
          kAllowedAlgorithms.end()) {
        yaml_.fail(item, item_path,
                   "unknown algorithm '" + alg +
                       "' (allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, "
                       "EdDSA)");
      }
      if (std::find(provider.algorithms.begin(), provider.algorithms.end(), alg) ==
          provider.algorithms.end()) {
        provider.algorithms.push_back(alg);
      }
    }
  }
  if (auto it = fields.find("clock_skew"); it != fields.end()) {
    provider.clock_skew =
        std::chrono::seconds(yaml_.integer(it->second.value, path + ".clock_skew", 0, 600));
  }
  if (auto it = fields.find("jwks_refresh"); it != fields.end()) {
    provider.jwks_refresh =
        std::chrono::seconds(yaml_.integer(it->second.value, path + ".jwks_refresh", 10, 86400));
  }
  if (auto it = fields.find("token_cache_size"); it != fields.end()) {
    provider.token_cache_size = static_cast<size_t>(
        yaml_.integer(it->second.value, path + ".token_cache_size", 0, 1000000));
  }
  load_token_policy(fields, path, &provider);
  return provider;
}

void ProvidersLoader::load_token_policy(const std::map<std::string, Field>& fields,
                                        const std::string& path, Provider* provider) const {
  if (auto it = fields.find("ca_file"); it != fields.end()) {
    provider->ca_file = yaml_.file_path(it->second.value, path + ".ca_file");
  }
  if (auto it = fields.find("token_type"); it != fields.end()) {
    provider->token_type = yaml_.string(it->second.value, path + ".token_type");
    if (provider->token_type != "jwt" && provider->token_type != "at+jwt" &&
        provider->token_type != "any") {
      yaml_.fail(it->second.value, path + ".token_type",
                 "'" + provider->token_type + "' is not one of jwt, at+jwt, any");
    }
  }
  if (auto it = fields.find("required_claims"); it != fields.end()) {
    provider->required_claims = yaml_.string_list(it->second.value, path + ".required_claims");
    for (const auto& claim : provider->required_claims) {
      if (claim.empty())
        yaml_.fail(it->second.value, path + ".required_claims", "empty claim name");
    }
  }
  if (auto it = fields.find("max_lifetime"); it != fields.end()) {
    provider->max_lifetime =
        std::chrono::seconds(yaml_.integer(it->second.value, path + ".max_lifetime", 60, 31536000));
  }
  if (auto it = fields.find("require_exp"); it != fields.end()) {
    const std::string value = yaml_.string(it->second.value, path + ".require_exp");
    if (value != "true" && value != "false") {
      yaml_.fail(it->second.value, path + ".require_exp", "must be true or false");
    }
    provider->require_exp = value == "true";
  }
}

void ProvidersLoader::load(const YAML::Node& node, Config* config) const {
  for (const auto& [name, field] : yaml_.read_map(node, "providers")) {
    const std::string path = "providers." + name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_host_char)) {
      yaml_.fail(field.key, path, "provider names use letters, digits, '.', '-' and '_'");
    }
    config->providers.emplace(name, load_provider(name, field.value, path));
  }
}

}  // namespace mag::config
