#include <doctest/doctest.h>

#include <string>

#include "proxy/config/config.h"
#include "proxy/router/origin_policy.h"

using mag::config::Config;
using mag::config::Listener;
using mag::proxy::origin_policy_for;

namespace {

Config config_with(std::vector<std::string> cors, std::string resource) {
  Config config;
  config.cors.allowed_origins = std::move(cors);
  mag::config::Route route;
  route.resource = std::move(resource);
  config.routes.push_back(route);
  return config;
}

}  // namespace

TEST_CASE("origin_policy: loopback defaults refuse foreign origins and hosts") {
  Listener listener;
  listener.address = "127.0.0.1:8000";
  auto policy = origin_policy_for(listener, config_with({"*"}, "http://localhost:8000/mcp"));
  CHECK(policy.origin_allowed("http://localhost:6274"));
  CHECK(policy.origin_allowed("http://127.0.0.1:3000"));
  CHECK(policy.origin_allowed("https://[::1]:443"));
  CHECK_FALSE(policy.origin_allowed("https://evil.example"));
  CHECK_FALSE(policy.origin_allowed("http://localhost.evil.example"));
  CHECK_FALSE(policy.origin_allowed("http://127.0.0.1.evil.example"));
  CHECK_FALSE(policy.origin_allowed("null"));
  CHECK(policy.host_allowed("localhost:8000"));
  CHECK(policy.host_allowed("127.0.0.1:8000"));
  CHECK(policy.host_allowed("[::1]:8000"));
  CHECK(policy.host_allowed("LOCALHOST"));
  CHECK_FALSE(policy.host_allowed("evil.example"));
  CHECK_FALSE(policy.host_allowed("evil.example:8000"));
}

TEST_CASE("origin_policy: explicit lists; cors origins are the default when not '*'") {
  Listener listener;
  listener.address = "0.0.0.0:8000";
  auto from_cors = origin_policy_for(
      listener, config_with({"https://claude.ai"}, "https://mcp.example.com/mcp"));
  CHECK(from_cors.origin_allowed("https://claude.ai"));
  CHECK_FALSE(from_cors.origin_allowed("http://localhost:6274"));
  CHECK(from_cors.host_allowed("anything.example"));  // public listener: hosts unchecked by default
  listener.allowed_origins = {"https://Claude.ai"};
  listener.allowed_hosts = {"mcp.example.com", "gw.example.com:8443"};
  auto explicit_policy =
      origin_policy_for(listener, config_with({"*"}, "https://mcp.example.com/mcp"));
  CHECK(explicit_policy.origin_allowed("https://claude.ai"));
  CHECK_FALSE(explicit_policy.origin_allowed("https://claude.ai.evil"));
  CHECK(explicit_policy.host_allowed("mcp.example.com:443"));
  CHECK(explicit_policy.host_allowed("gw.example.com:8443"));
  CHECK_FALSE(explicit_policy.host_allowed("gw.example.com:9999"));
  listener.allowed_origins = {"*"};
  CHECK(origin_policy_for(listener, config_with({"*"}, "")).origin_allowed("https://evil.example"));
}

TEST_CASE("origin_policy: the 403 body is a JSON-RPC error without id") {
  CHECK(mag::proxy::jsonrpc_error_without_id(-32000, "Forbidden") ==
        R"({"jsonrpc":"2.0","error":{"code":-32000,"message":"Forbidden"}})");
}
