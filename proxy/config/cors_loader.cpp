#include "proxy/config/cors_loader.h"

#include "proxy/config/value_syntax.h"

namespace mag::config {

void CorsLoader::load(const YAML::Node& node, Config* config) const {
  auto fields = yaml_.read_map(node, "cors", {"allowed_origins"});
  auto origins = fields.find("allowed_origins");
  if (origins == fields.end()) return;
  const YAML::Node list = origins->second.value;
  config->cors.allowed_origins = yaml_.string_list(list, "cors.allowed_origins");
  for (size_t i = 0; i < config->cors.allowed_origins.size(); ++i) {
    const std::string& origin = config->cors.allowed_origins[i];
    if (origin == "*") continue;
    Url url;
    std::string reason = parse_url(origin, &url);
    if (reason.empty() && !url.path.empty()) reason = "must be an origin (no path)";
    if (!reason.empty()) {
      yaml_.fail(list[i], "cors.allowed_origins[" + std::to_string(i) + "]",
                 "'" + origin + "' " + reason + " (expected \"*\" or scheme://host[:port])");
    }
  }
}

}  // namespace mag::config
