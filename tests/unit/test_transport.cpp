// Transport configuration (issue 5): drain_timeout and per-upstream limits.
#include <doctest/doctest.h>

#include "common/http/http_server.h"
#include "proxy/config.h"

namespace {

constexpr const char* kBase = R"(
listeners: [{address: "127.0.0.1:8080"}]
upstreams:
  up:
    url: http://127.0.0.1:9000
)";

std::string with(const std::string& upstream_extra, const std::string& top_extra = "") {
  return std::string(kBase) + upstream_extra +
         "routes: [{path_prefix: /mcp, upstream: up, auth: none}]\n" + top_extra;
}

}  // namespace

TEST_CASE("transport: defaults when nothing is configured") {
  auto r = mag::config::load_string(with(""));
  REQUIRE_MESSAGE(r.config, (r.error ? r.error->message : ""));
  CHECK(r.config->drain_timeout == std::chrono::seconds(10));
  const auto& up = r.config->upstreams.at("up");
  CHECK(up.max_connections == 1024);
  CHECK(up.connect_timeout == std::chrono::seconds(5));
  CHECK(up.response_header_timeout == std::chrono::seconds(60));
  CHECK(up.idle_timeout == std::chrono::seconds(300));
}

TEST_CASE("transport: drain_timeout and upstream limits are read") {
  auto r =
      mag::config::load_string(with("    max_connections: 8\n"
                                    "    connect_timeout: 2\n"
                                    "    response_header_timeout: 30\n"
                                    "    idle_timeout: 0\n",
                                    "drain_timeout: 3\n"));
  REQUIRE_MESSAGE(r.config, (r.error ? r.error->message : ""));
  CHECK(r.config->drain_timeout == std::chrono::seconds(3));
  const auto& up = r.config->upstreams.at("up");
  CHECK(up.max_connections == 8);
  CHECK(up.connect_timeout == std::chrono::seconds(2));
  CHECK(up.response_header_timeout == std::chrono::seconds(30));
  CHECK(up.idle_timeout == std::chrono::seconds(0));
}

TEST_CASE("transport: out-of-range values are refused with the key's path") {
  struct Case {
    std::string yaml;
    std::string key;
  };
  const Case cases[] = {
      {with("    max_connections: 0\n"), "upstreams.up.max_connections"},
      {with("    connect_timeout: 0\n"), "upstreams.up.connect_timeout"},
      {with("    response_header_timeout: -1\n"), "upstreams.up.response_header_timeout"},
      {with("", "drain_timeout: 100000\n"), "drain_timeout"},
      {with("", "drain_timeout: soon\n"), "drain_timeout"},
  };
  for (const auto& c : cases) {
    auto r = mag::config::load_string(c.yaml);
    CHECK_FALSE(r.config);
    REQUIRE(r.error);
    CHECK_MESSAGE(r.error->message.find(c.key) != std::string::npos, r.error->message);
  }
}

TEST_CASE("transport: a TLS listener with a missing certificate does not start") {
  event_base* base = event_base_new();
  REQUIRE(base);
  {
    mag::http::ServerOptions options;
    options.tls_certificate = "/nonexistent/cert.pem";
    options.tls_private_key = "/nonexistent/key.pem";
    mag::http::HttpServer server(
        base, [](mag::http::ServerStream&) { return nullptr; }, options);
    std::string error;
    CHECK_FALSE(server.listen("127.0.0.1:0", &error));
    CHECK_MESSAGE(error.find("TLS") != std::string::npos, error);
  }
  event_base_free(base);
}
