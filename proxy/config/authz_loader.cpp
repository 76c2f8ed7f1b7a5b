#include "proxy/config/authz_loader.h"

#include <chrono>

namespace mag::config {

void AuthzLoader::load(const YAML::Node& node, Config* config) const {
  auto authz = yaml_.read_map(node, "authz",
                              {"session_idle_timeout", "max_sessions", "max_sessions_per_principal",
                               "unknown_sessions", "stream_expiry_grace", "max_inspected_body"});
  if (auto f = authz.find("session_idle_timeout"); f != authz.end()) {
    config->authz.session_idle_timeout = std::chrono::seconds(
        yaml_.integer(f->second.value, "authz.session_idle_timeout", 10, 604800));
  }
  if (auto f = authz.find("max_sessions"); f != authz.end()) {
    config->authz.max_sessions =
        static_cast<size_t>(yaml_.integer(f->second.value, "authz.max_sessions", 1, 10000000));
  }
  if (auto f = authz.find("max_sessions_per_principal"); f != authz.end()) {
    config->authz.max_sessions_per_principal = static_cast<size_t>(
        yaml_.integer(f->second.value, "authz.max_sessions_per_principal", 1, 10000000));
  }
  if (auto f = authz.find("unknown_sessions"); f != authz.end()) {
    const std::string value = yaml_.string(f->second.value, "authz.unknown_sessions");
    if (value == "refuse") {
      config->authz.unknown_sessions = Config::Authz::UnknownSessions::kRefuse;
    } else if (value == "adopt") {
      config->authz.unknown_sessions = Config::Authz::UnknownSessions::kAdopt;
    } else {
      yaml_.fail(f->second.value, "authz.unknown_sessions",
                 "'" + value + "' is not one of refuse, adopt");
    }
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
