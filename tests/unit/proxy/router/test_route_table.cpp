#include <doctest/doctest.h>

#include "proxy/router/route_table.h"

using mag::proxy::find_route;
using mag::proxy::path_is_canonical;

TEST_CASE("route_table: canonical paths") {
  for (const char* ok : {"/", "/mcp", "/mcp/", "/mcp/a-b_c.d~e", "/a/%41", "/a/b.c/..d"}) {
    CHECK_MESSAGE(path_is_canonical(ok), ok);
  }
  for (const char* bad : {"", "mcp", "/mcp/../admin", "/mcp/..", "/./mcp", "/mcp/.", "//mcp",
                          "/mcp//x", "/mcp%2e%2e/x", "/mcp/%2E%2E/admin", "/pub%2fadmin",
                          "/pub%2Fadmin", "/a%5cb", "/a\\b", "/a%00", "/a%", "/a%4", "/a%zz"}) {
    CHECK_MESSAGE(!path_is_canonical(bad), bad);
  }
}

TEST_CASE("route_table: segment-bound longest prefix") {
  mag::config::Config config;
  mag::config::Route mcp;
  mcp.path_prefix = "/mcp";
  mcp.upstream = "a";
  mag::config::Route deeper;
  deeper.path_prefix = "/mcp/admin";
  deeper.upstream = "b";
  config.routes = {mcp, deeper};

  REQUIRE(find_route(config, "/mcp") != nullptr);
  CHECK(find_route(config, "/mcp")->upstream == "a");
  CHECK(find_route(config, "/mcp/x")->upstream == "a");
  CHECK(find_route(config, "/mcp/admin")->upstream == "b");
  CHECK(find_route(config, "/mcp/admin/tools")->upstream == "b");
  CHECK(find_route(config, "/mcp/administrator")->upstream == "a");
  CHECK(find_route(config, "/mcp2") == nullptr);
  CHECK(find_route(config, "/") == nullptr);
  CHECK(find_route(config, "/other") == nullptr);
}
