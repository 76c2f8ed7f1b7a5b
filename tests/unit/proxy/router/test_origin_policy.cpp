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

TEST_CASE("origin_policy: loopback defaults refuse foreign origins and hosts (MCP-19/20)") {
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

TEST_CASE(
    "origin_policy: hostile Host and Origin forms are refused on a loopback listener (MCP-19/20)") {
  Listener listener;
  listener.address = "127.0.0.1:8000";
  auto policy = origin_policy_for(listener, config_with({"*"}, "http://localhost:8000/mcp"));
  for (const char* host :
       {"localhost", "LOCALHOST:8000", "localhost.:8000", "127.0.0.1", "[::1]:8000", "[0::1]"}) {
    INFO("host " << host);
    CHECK(policy.host_allowed(host));
  }
  for (const char* host :
       {"127.1", "127.1:8000", "0x7f.0.0.1", "127.000.000.001", "127.0.0.1.evil.com", "localhost..",
        "localhost.evil.example", "[::1]x", "[::1]:80:80", "localhost:", "localhost:99999",
        "localhost: 80", "local%68ost", "", "localhost,evil.example", "2130706433", "127.0.0.2"}) {
    INFO("host '" << host << "'");
    CHECK_FALSE(policy.host_allowed(host));
  }
  for (const char* origin : {"http://localhost:6274", "http://LOCALHOST:6274",
                             "http://127.0.0.2:3000", "https://[::1]", "http://localhost."}) {
    INFO("origin " << origin);
    CHECK(policy.origin_allowed(origin));
  }
  for (const char* origin :
       {"http://127.1:3000", "http://0x7f.0.0.1", "http://127.000.000.001",
        "http://127.0.0.1.evil.com", "http://localhost..", "http://[::1]x", "http://[::1]:80:80",
        "http://localhost:", "http://localhost:99999", "http://localhost/", "http://evil@localhost",
        "http://localhost?x", "http://localhost#x", "ftp://localhost", "http://local%68ost",
        "http://[::ffff:127.0.0.1]", "", "null", "http://localhost, https://evil.example"}) {
    INFO("origin '" << origin << "'");
    CHECK_FALSE(policy.origin_allowed(origin));
  }
}

TEST_CASE("origin_policy: 'null' only when listed; '*' takes any well-formed origin") {
  Listener listener;
  listener.address = "0.0.0.0:8000";
  listener.allowed_origins = {"*"};
  auto any = origin_policy_for(listener, config_with({"*"}, ""));
  CHECK(any.origin_allowed("https://anything.example"));
  CHECK_FALSE(any.origin_allowed("null"));
  CHECK_FALSE(any.origin_allowed("https://anything.example/path"));
  listener.allowed_origins = {"null", "https://claude.ai:443"};
  auto with_null = origin_policy_for(listener, config_with({"*"}, ""));
  CHECK(with_null.origin_allowed("null"));
  CHECK(with_null.origin_allowed("https://claude.ai"));
  CHECK_FALSE(with_null.origin_allowed("NULL"));
  // Public listener, any host: still only well-formed ones.
  CHECK(with_null.host_allowed("anything.example:8443"));
  CHECK_FALSE(with_null.host_allowed("anything.example:99999"));
  CHECK_FALSE(with_null.host_allowed("127.1"));
}

TEST_CASE("origin_policy: is_loopback_host is strict too") {
  using mag::proxy::is_loopback_host;
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.255.0.9"));
  CHECK(is_loopback_host("::1"));
  CHECK(is_loopback_host("[::1]"));
  CHECK_FALSE(is_loopback_host("127.1"));
  CHECK_FALSE(is_loopback_host("127.0.0.1.evil.com"));
  CHECK_FALSE(is_loopback_host("0.0.0.0"));
  CHECK_FALSE(is_loopback_host(""));
}
