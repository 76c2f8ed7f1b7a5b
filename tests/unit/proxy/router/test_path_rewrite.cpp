#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "proxy/router/path_rewrite.h"

using mag::proxy::rewrite_prefix;
using mag::proxy::upstream_path;

TEST_CASE("path_rewrite: prefix_rewrite replaces path_prefix") {
  const std::optional<std::string> none;
  const std::optional<std::string> mcp("/mcp");
  const std::optional<std::string> root("/");
  struct Case {
    const char* path;
    const char* prefix;
    const std::optional<std::string>* rewrite;
    const char* expected;
  };
  const Case cases[] = {
      {"/a", "/a", &none, "/a"},
      {"/a/x", "/a", &none, "/a/x"},
      {"/a", "/a", &mcp, "/mcp"},
      {"/a/x", "/a", &mcp, "/mcp/x"},
      {"/a/", "/a", &mcp, "/mcp/"},
      {"/a/x/y", "/a", &mcp, "/mcp/x/y"},
      {"/a", "/a", &root, "/"},
      {"/a/x", "/a", &root, "/x"},
      {"/a/", "/a", &root, "/"},
      {"/", "/", &mcp, "/mcp"},
      {"/x", "/", &mcp, "/mcp/x"},
      {"/x/y", "/", &root, "/x/y"},
      {"/", "/", &root, "/"},
      {"/a/b/c", "/a/b", &mcp, "/mcp/c"},
      {"/a/%41", "/a", &mcp, "/mcp/%41"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.path);
    CAPTURE(c.prefix);
    CHECK(rewrite_prefix(c.path, c.prefix, *c.rewrite) == c.expected);
  }
}

TEST_CASE("path_rewrite: the upstream's base path goes in front") {
  mag::config::Route route;
  route.path_prefix = "/notes";
  mag::config::Upstream upstream;
  CHECK(upstream_path(route, upstream, "/notes/x") == "/notes/x");
  upstream.base_path = "/base";
  CHECK(upstream_path(route, upstream, "/notes/x") == "/base/notes/x");
  route.prefix_rewrite = "/mcp";
  CHECK(upstream_path(route, upstream, "/notes") == "/base/mcp");
  CHECK(upstream_path(route, upstream, "/notes/x") == "/base/mcp/x");
  route.prefix_rewrite = "/";
  CHECK(upstream_path(route, upstream, "/notes") == "/base/");
}
