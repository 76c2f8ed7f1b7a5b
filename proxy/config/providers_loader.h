// `providers:`: each token issuer, its keys (JWKS URL or file) and its token
// policy.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class ProvidersLoader {
 public:
  explicit ProvidersLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  Provider load_provider(const std::string& name, const YAML::Node& node,
                         const std::string& path) const;
  void load_token_policy(const std::map<std::string, Field>& fields, const std::string& path,
                         Provider* provider) const;

  const YamlReader& yaml_;
};

}  // namespace mag::config
