#include "proxy/router/upstream_shared.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mag::proxy {
namespace {

struct Live {
  std::vector<http::Endpoint> endpoints;
  std::weak_ptr<http::UpstreamEndpoints> object;
};

// Weak references only: an object lives as long as some snapshot's pools
// hold it, so an upstream removed by a reload is freed with the last request
// that used it.
std::mutex registry_mutex;
std::map<std::string, Live> registry;

}  // namespace

std::shared_ptr<http::UpstreamEndpoints> shared_upstream(const config::Config& config,
                                                         const config::Upstream& upstream) {
  std::vector<http::Endpoint> endpoints;
  for (const auto& e : upstream.endpoints) endpoints.push_back({e.host, e.port});
  if (endpoints.empty()) endpoints.push_back({upstream.host, upstream.port});

  std::lock_guard lock(registry_mutex);
  std::erase_if(registry, [](const auto& entry) { return entry.second.object.expired(); });
  auto& live = registry[upstream.name];
  if (auto existing = live.object.lock(); existing && live.endpoints == endpoints) {
    existing->sessions().set_limits(config.authz.max_sessions, config.authz.session_idle_timeout);
    return existing;
  }
  http::UpstreamEndpoints::Options options;
  options.max_sessions = config.authz.max_sessions;
  options.session_idle_timeout = config.authz.session_idle_timeout;
  auto created = std::make_shared<http::UpstreamEndpoints>(endpoints, options);
  live = Live{std::move(endpoints), created};
  return created;
}

}  // namespace mag::proxy
