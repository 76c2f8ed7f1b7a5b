#include "proxy/config/listeners_loader.h"

#include "common/http/uri_authority.h"
#include "proxy/config/value_syntax.h"

namespace mag::config {

void ListenersLoader::load(const YAML::Node& node, Config* config) const {
  yaml_.require_sequence(node, "listeners");
  if (node.size() == 0) yaml_.fail(node, "listeners", "at least one listener is required");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "listeners[" + std::to_string(i) + "]";
    auto fields = yaml_.read_map(
        node[i], path,
        {"address", "tls", "allowed_origins", "allowed_hosts", "request_body_timeout"});
    Listener listener;
    // Slow-body defence (H1-43; docs/configuration.md): seconds, 0 = none.
    if (auto it = fields.find("request_body_timeout"); it != fields.end()) {
      listener.request_body_timeout = std::chrono::seconds(
          yaml_.integer(it->second.value, path + ".request_body_timeout", 0, 3600));
    }
    if (auto it = fields.find("allowed_origins"); it != fields.end()) {
      listener.allowed_origins = yaml_.string_list(it->second.value, path + ".allowed_origins");
      for (size_t j = 0; j < listener.allowed_origins.size(); ++j) {
        const std::string& origin = listener.allowed_origins[j];
        // Read by the grammar requests are read by: an entry that does
        // not parse could never match, so it is an error, not a no-op.
        if (origin != "*" && origin != "null" && !http::normalise_origin(origin)) {
          yaml_.fail(it->second.value[j], path + ".allowed_origins[" + std::to_string(j) + "]",
                     "'" + origin +
                         "' must be an origin (expected \"*\", \"null\" or scheme://host[:port])");
        }
      }
    }
    if (auto it = fields.find("allowed_hosts"); it != fields.end()) {
      listener.allowed_hosts = yaml_.string_list(it->second.value, path + ".allowed_hosts");
      for (size_t j = 0; j < listener.allowed_hosts.size(); ++j) {
        const std::string& host = listener.allowed_hosts[j];
        if (host != "*" && !http::parse_authority(host)) {
          yaml_.fail(it->second.value[j], path + ".allowed_hosts[" + std::to_string(j) + "]",
                     "'" + host + "' is not a host or host:port");
        }
      }
    }
    auto address = fields.find("address");
    if (address == fields.end()) yaml_.fail(node[i], path, "missing required key 'address'");
    listener.address = yaml_.string(address->second.value, path + ".address");
    if (auto reason = check_host_port(listener.address); !reason.empty()) {
      yaml_.fail(address->second.value, path + ".address", "'" + listener.address + "': " + reason);
    }
    if (auto tls = fields.find("tls"); tls != fields.end()) {
      const std::string tls_path = path + ".tls";
      auto tls_fields = yaml_.read_map(tls->second.value, tls_path, {"certificate", "private_key"});
      auto cert = tls_fields.find("certificate");
      auto key = tls_fields.find("private_key");
      if (cert == tls_fields.end() || key == tls_fields.end()) {
        yaml_.fail(tls->second.value, tls_path,
                   "both 'certificate' and 'private_key' are required");
      }
      listener.tls_certificate = yaml_.file_path(cert->second.value, tls_path + ".certificate");
      listener.tls_private_key = yaml_.file_path(key->second.value, tls_path + ".private_key");
    }
    config->listeners.push_back(std::move(listener));
  }
}

}  // namespace mag::config
