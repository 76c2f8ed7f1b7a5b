// `upstreams:`: the MCP servers behind the gateway, their endpoints, limits
// Host header and TLS settings.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
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
  // ca_file, client_cert_file / client_key_file, tls_server_name; builds the
  // upstream's TLS context (every file read and checked now).
  void load_tls(const std::map<std::string, Field>& fields, const std::string& path,
                Upstream* upstream) const;

  const YamlReader& yaml_;
};

}  // namespace mag::config
