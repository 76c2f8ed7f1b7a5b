#include "proxy/config/config_loader.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <string_view>
#include <vector>

#include "proxy/config/access_log_loader.h"
#include "proxy/config/admin_loader.h"
#include "proxy/config/authz_loader.h"
#include "proxy/config/cors_loader.h"
#include "proxy/config/input_screening.h"
#include "proxy/config/listeners_loader.h"
#include "proxy/config/providers_loader.h"
#include "proxy/config/routes_loader.h"
#include "proxy/config/upstreams_loader.h"

namespace mag::config {

Config ConfigLoader::load(const std::string& text) {
  screen_input(yaml_.source(), text);
  const std::vector<YAML::Node> documents = YAML::LoadAll(text);
  if (documents.size() != 1) {
    throw LoadFailure(yaml_.source() + ":1:1: expected exactly one YAML document");
  }
  const YAML::Node root = documents.front();
  if (!root.IsMap()) {
    yaml_.fail(root, "",
               "the top level must be a map with listeners, providers, upstreams and routes, got " +
                   yaml_.kind(root));
  }
  auto fields = yaml_.read_map(root, "",
                               {"listeners", "admin", "providers", "upstreams", "routes", "cors",
                                "log_level", "access_log", "authz", "drain_timeout", "workers"});

  Config config;
  config.source = yaml_.source();
  auto need = [&](const char* key) -> const YAML::Node& {
    auto it = fields.find(key);
    if (it == fields.end()) yaml_.fail(root, "", std::string("missing required key '") + key + "'");
    return it->second.value;
  };
  ListenersLoader(yaml_).load(need("listeners"), &config);
  if (auto it = fields.find("admin"); it != fields.end()) {
    AdminLoader(yaml_).load(it->second.value, &config);
  }
  if (auto it = fields.find("access_log"); it != fields.end()) {
    AccessLogLoader(yaml_).load(it->second.value, &config);
  }
  if (auto it = fields.find("providers"); it != fields.end()) {
    ProvidersLoader(yaml_).load(it->second.value, &config);
  }
  UpstreamsLoader(yaml_).load(need("upstreams"), &config);
  RoutesLoader(yaml_).load(need("routes"), &config);
  if (auto it = fields.find("authz"); it != fields.end()) {
    AuthzLoader(yaml_).load(it->second.value, &config);
  }
  config.cors.allowed_origins = {"*"};
  if (auto it = fields.find("cors"); it != fields.end())
    CorsLoader(yaml_).load(it->second.value, &config);
  if (auto it = fields.find("drain_timeout"); it != fields.end()) {
    config.drain_timeout =
        std::chrono::seconds(yaml_.integer(it->second.value, "drain_timeout", 0, 3600));
  }
  if (auto it = fields.find("workers"); it != fields.end()) {
    config.workers = static_cast<size_t>(yaml_.integer(it->second.value, "workers", 0, 64));
  }
  if (auto it = fields.find("log_level"); it != fields.end()) {
    config.log_level = yaml_.string(it->second.value, "log_level");
    static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
    if (std::find(std::begin(kLevels), std::end(kLevels), config.log_level) == std::end(kLevels)) {
      yaml_.fail(it->second.value, "log_level",
                 "'" + config.log_level + "' is not one of debug, info, warn, error");
    }
  }
  return config;
}

}  // namespace mag::config
