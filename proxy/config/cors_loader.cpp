#include "proxy/config/cors_loader.h"

#include "common/http/uri_authority.h"
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
    if (origin == "*" || http::normalise_origin(origin)) continue;
    yaml_.fail(list[i], "cors.allowed_origins[" + std::to_string(i) + "]",
               "'" + origin + "' must be an origin (expected \"*\" or scheme://host[:port])");
  }
}

}  // namespace mag::config
