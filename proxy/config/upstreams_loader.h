// `upstreams:`: the MCP servers behind the gateway, their endpoints, limits
// and Host header.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class UpstreamsLoader {
 public:
  explicit UpstreamsLoader(const YamlReader& yaml) : yaml_(yaml) {}
  void load(const YAML::Node& node, Config* config) const;

 private:
  void load_host_header(const YAML::Node& node, const std::string& path, Upstream* upstream) const;

  const YamlReader& yaml_;
};

}  // namespace mag::config
