// `routes:`: path prefix to upstream, the protected resource it is, and its
// `auth:` (provider, scopes, tool and method rules, identity headers).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class RoutesLoader {
 public:
  explicit RoutesLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  std::string plain_path(const YAML::Node& node, const std::string& path) const;
  Route load_route(const YAML::Node& node, const std::string& path, const Config& config) const;
  RouteAuth load_route_auth(const YAML::Node* node, const YAML::Node& route_node,
                            const std::string& path, const Config& config) const;

  const YamlReader& yaml_;
};

}  // namespace mag::config
