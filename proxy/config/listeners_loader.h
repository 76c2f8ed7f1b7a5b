// `listeners:`: the public addresses, their TLS files, Host/Origin allow-lists
// and slow-body limit.
#pragma once

#include <yaml-cpp/yaml.h>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class ListenersLoader {
 public:
  explicit ListenersLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  const YamlReader& yaml_;
};

}  // namespace mag::config
