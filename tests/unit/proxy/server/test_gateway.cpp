// The gateway's process-wide settings.
#include <doctest/doctest.h>

#include "proxy/server/gateway.h"

using namespace mag;
using namespace std::chrono_literals;

TEST_CASE("workers: the `workers` key") {
  const std::string base = R"(listeners: [{address: "127.0.0.1:8000"}]
providers:
  idp: {issuer: "http://as.test", jwks_uri: "http://as.test/jwks"}
upstreams:
  be: {url: "http://127.0.0.1:9000"}
routes:
  - {path_prefix: /mcp, upstream: be, resource: "http://127.0.0.1:8000/mcp"}
)";
  auto absent = config::load_string(base, "gw.yaml");
  REQUIRE_FALSE(absent.error);
  CHECK(absent.config->workers == 0);
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  CHECK(proxy::effective_workers(*absent.config) == std::min<size_t>(cores, 64));
  auto three = config::load_string(base + "workers: 3\n", "gw.yaml");
  REQUIRE_FALSE(three.error);
  CHECK(proxy::effective_workers(*three.config) == 3);
  auto zero = config::load_string(base + "workers: 0\n", "gw.yaml");
  REQUIRE_FALSE(zero.error);
  CHECK(proxy::effective_workers(*zero.config) == std::min<size_t>(cores, 64));
  for (const char* bad : {"workers: 65\n", "workers: -1\n", "workers: two\n"}) {
    auto refused = config::load_string(base + bad, "gw.yaml");
    REQUIRE(refused.error);
    // file:line:col of the value, then the key.
    CHECK(refused.error->message.rfind("gw.yaml:8:10: workers", 0) == 0);
  }
}
