#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "common/upstream/affinity_table.h"
#include "proxy/config/config.h"
#include "proxy/router/upstream_shared.h"
#include "tests/unit/config_test_util.h"

using mag::http::AffinityTable;
using mag::test::config_with_upstream;

TEST_CASE("upstream_shared: one object per upstream, kept across reloads when unchanged") {
  const std::string v1 =
      config_with_upstream("    endpoints: [http://127.0.0.1:9101, http://127.0.0.1:9102]\n");
  auto c1 = mag::config::load_string(v1);
  auto c2 = mag::config::load_string(v1);  // a reload with the same upstream
  auto c3 = mag::config::load_string(
      config_with_upstream("    endpoints: [http://127.0.0.1:9101, http://127.0.0.1:9103]\n"));
  REQUIRE((c1.config && c2.config && c3.config));
  auto first = mag::proxy::shared_upstream(*c1.config, c1.config->upstreams.at("backend"));
  first->sessions().bind("s", 1, AffinityTable::Clock::now());
  auto again = mag::proxy::shared_upstream(*c2.config, c2.config->upstreams.at("backend"));
  CHECK(again == first);
  CHECK(again->sessions().find("s", AffinityTable::Clock::now()) == std::optional<size_t>(1));
  auto changed = mag::proxy::shared_upstream(*c3.config, c3.config->upstreams.at("backend"));
  CHECK(changed != first);
  CHECK(changed->sessions().size() == 0);
  CHECK(changed->endpoints()[1].port == 9103);
}
