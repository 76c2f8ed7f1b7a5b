#include "proxy/config/admin_loader.h"

#include "proxy/config/value_syntax.h"

namespace mag::config {

void AdminLoader::load(const YAML::Node& node, Config* config) const {
  auto admin = yaml_.read_map(node, "admin", {"address", "ready_checks_upstreams"});
  if (auto it = admin.find("ready_checks_upstreams"); it != admin.end()) {
    const std::string value = yaml_.string(it->second.value, "admin.ready_checks_upstreams");
    if (value != "true" && value != "false") {
      yaml_.fail(it->second.value, "admin.ready_checks_upstreams", "expected true or false");
    }
    config->admin.ready_checks_upstreams = value == "true";
  }
  if (auto address = admin.find("address"); address != admin.end()) {
    config->admin.address = yaml_.string(address->second.value, "admin.address");
    config->admin.address_configured = true;
    if (auto reason = check_host_port(config->admin.address);
        !config->admin.address.empty() && !reason.empty()) {
      yaml_.fail(address->second.value, "admin.address",
                 "'" + config->admin.address + "': " + reason);
    }
    for (const auto& listener : config->listeners) {
      if (listener.address == config->admin.address) {
        yaml_.fail(address->second.value, "admin.address",
                   "'" + config->admin.address +
                       "' is also a public listener; the admin interface "
                       "must have an address of its own");
      }
    }
  }
}

}  // namespace mag::config
