#include "proxy/server/config_reload.h"

#include "common/core/log.h"
#include "proxy/telemetry/metrics.h"

namespace mag::proxy {
namespace {

bool refuse(const std::string& reason) {
  log::error("reload", "configuration refused, keeping the running one: " + reason);
  auto& registry = metrics::global();
  registry.counter_add("mag_config_reloads_total", {{"result", "failure"}});
  registry.gauge_set("mag_config_last_reload_successful", {}, 0);
  return false;
}

}  // namespace

bool reload_config(Gateway& gateway, const std::string& path) {
  log::info("reload", "re-reading " + path);
  auto loaded = config::load_file(path);
  if (loaded.error) return refuse(loaded.error->message);
  std::string error;
  if (!gateway.reload(loaded.config, &error)) return refuse(error);
  auto& registry = metrics::global();
  registry.counter_add("mag_config_reloads_total", {{"result", "success"}});
  registry.gauge_set("mag_config_last_reload_successful", {}, 1);
  log::info("reload", "configuration reloaded: " + std::to_string(loaded.config->routes.size()) +
                          " route(s), " + std::to_string(loaded.config->providers.size()) +
                          " provider(s)");
  return true;
}

}  // namespace mag::proxy
