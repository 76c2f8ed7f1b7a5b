// `authz:`: the limits of the mcp_authz stage (sessions, inspected bodies).
#pragma once

#include <yaml-cpp/yaml.h>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class AuthzLoader {
 public:
  explicit AuthzLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  const YamlReader& yaml_;
};

}  // namespace mag::config
