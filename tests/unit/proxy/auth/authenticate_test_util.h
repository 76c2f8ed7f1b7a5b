// authenticate() for tests that have a route and provider views but no
// snapshot: the route's policies are built on the spot from the providers'
// own configuration (the gateway builds them once per snapshot).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "proxy/auth/authenticator.h"
#include "proxy/config/config.h"

namespace mag::auth {

inline AuthAttempt authenticate(const config::Route& route, const http::HeaderMap& headers,
                                const ProviderMap& providers, int64_t now_seconds,
                                bool allow_refetch, const std::function<void()>& retry) {
  std::map<std::string, config::Provider> configs;
  for (const auto& [name, view] : providers) configs.emplace(name, view->config());
  return authenticate(route_policies(route, configs), headers, providers, now_seconds,
                      allow_refetch, retry);
}

}  // namespace mag::auth
