#include "proxy/config/authz_loader.h"

#include <chrono>

namespace mag::config {

void AuthzLoader::load(const YAML::Node& node, Config* config) const {
  auto authz = yaml_.read_map(
      node, "authz",
      {"session_idle_timeout", "max_sessions", "stream_expiry_grace", "max_inspected_body"});
  if (auto f = authz.find("session_idle_timeout"); f != authz.end()) {
    config->authz.session_idle_timeout = std::chrono::seconds(
        yaml_.integer(f->second.value, "authz.session_idle_timeout", 10, 604800));
  }
  if (auto f = authz.find("max_sessions"); f != authz.end()) {
    config->authz.max_sessions =
        static_cast<size_t>(yaml_.integer(f->second.value, "authz.max_sessions", 1, 10000000));
  }
  if (auto f = authz.find("stream_expiry_grace"); f != authz.end()) {
    config->authz.stream_expiry_grace =
        std::chrono::seconds(yaml_.integer(f->second.value, "authz.stream_expiry_grace", 0, 3600));
  }
  if (auto f = authz.find("max_inspected_body"); f != authz.end()) {
    config->authz.max_inspected_body = static_cast<size_t>(
        yaml_.integer(f->second.value, "authz.max_inspected_body", 1024, 16 << 20));
  }
}

}  // namespace mag::config
