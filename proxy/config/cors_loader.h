// `cors:`: the origins allowed to call the gateway from a browser.
#pragma once

#include <yaml-cpp/yaml.h>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class CorsLoader {
 public:
  explicit CorsLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  const YamlReader& yaml_;
};

}  // namespace mag::config
