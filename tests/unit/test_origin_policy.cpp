#include <doctest/doctest.h>

#include <string>

#include "proxy/config.h"
#include "proxy/origin_policy.h"

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

TEST_CASE("origin_policy: authorities are parsed by the RFC 3986 grammar, strictly") {
  using mag::proxy::parse_authority;
  const auto text = [](std::string_view in) {
    auto parsed = parse_authority(in);
    return parsed ? parsed->text() : std::string("REFUSED");
  };
  CHECK(text("localhost") == "localhost");
  CHECK(text("LOCALHOST:8000") == "localhost:8000");
  CHECK(text("localhost.") == "localhost");  // one trailing dot: the same name
  CHECK(text("Mcp.Example.com.:443") == "mcp.example.com:443");
  CHECK(text("127.0.0.1") == "127.0.0.1");
  CHECK(text("[::1]:80") == "[::1]:80");
  CHECK(text("[0:0:0:0:0:0:0:1]") == "[::1]");  // canonical IPv6 text
  CHECK(text("[::FFFF:127.0.0.1]") == "[::ffff:127.0.0.1]");
  CHECK(text("a-b.example:65535") == "a-b.example:65535");
  for (const char* hostile : {
           "",
           ":80",
           "[::1]x",
           "[::1]:80:80",
           "[::1",
           "::1",
           "[]",
           "[fe80::1%25eth0]",
           "[v1.abc]",
           "[127.0.0.1]",
           "127.1",
           "127.0.1",
           "1.2.3.4.5",
           "0x7f.0.0.1",
           "0x7f000001",
           "2130706433",
           "0177.0.0.1",
           "127.000.000.001",
           "127.0.0.01",
           "256.0.0.1",
           "example.123",
           "localhost..",
           ".localhost",
           "a..b",
           "..",
           ".",
           "host:",
           "host:99999",
           "host:65536",
           "host:0",
           "host:080",
           "host: 80",
           "host:80 ",
           " host",
           "host:+80",
           "host:8a",
           "host:80:80",
           "ho%73t",
           "h\xC3\xA9st.example",
           "host_name",
           "user@host",
           "host/path",
           "host?q",
           "host#f",
           "a,b",
           "localhost, evil.example",
           "host\t",
       }) {
    INFO("authority '" << hostile << "'");
    CHECK_FALSE(parse_authority(hostile));
  }
  CHECK_FALSE(parse_authority(std::string("local\0host", 10)));
  CHECK_FALSE(parse_authority(std::string(64, 'a') + ".example"));  // a label over 63
}

TEST_CASE("origin_policy: origins are scheme://authority and nothing else") {
  using mag::proxy::normalise_origin;
  CHECK(normalise_origin("HTTPS://Claude.AI") == "https://claude.ai");
  CHECK(normalise_origin("https://claude.ai:443") == "https://claude.ai");
  CHECK(normalise_origin("http://localhost:80") == "http://localhost");
  CHECK(normalise_origin("http://localhost:443") == "http://localhost:443");
  CHECK(normalise_origin("vscode-webview://abc123") == "vscode-webview://abc123");
  for (const char* hostile :
       {"https://claude.ai/", "https://claude.ai/x", "https://claude.ai?x", "https://claude.ai#x",
        "https://user@claude.ai", "https://user:pw@claude.ai", "https://", "://claude.ai",
        "claude.ai", "1https://claude.ai", "ht tp://claude.ai", "https:claude.ai",
        "https://claude.ai:", "https://claude.ai:99999", "https://[::1]x", "null", ""}) {
    INFO("origin '" << hostile << "'");
    CHECK_FALSE(normalise_origin(hostile));
  }
}

TEST_CASE("origin_policy: hostile Host and Origin forms are refused on a loopback listener") {
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
