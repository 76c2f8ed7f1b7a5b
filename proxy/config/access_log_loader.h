// `access_log: off`, or a map {path, format, identity, identity_key}.
#pragma once

#include <yaml-cpp/yaml.h>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class AccessLogLoader {
 public:
  explicit AccessLogLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  const YamlReader& yaml_;
};

}  // namespace mag::config
