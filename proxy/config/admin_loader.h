// `admin:`: the admin listener's address, which must not be a public one,
// and whether /ready checks the upstreams.
#pragma once

#include <yaml-cpp/yaml.h>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class AdminLoader {
 public:
  explicit AdminLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  const YamlReader& yaml_;
};

}  // namespace mag::config
