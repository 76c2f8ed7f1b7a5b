#include <doctest/doctest.h>

#include <vector>

#include "common/upstream/upstream_endpoints.h"

using namespace std::chrono_literals;
using mag::http::Endpoint;
using mag::http::UpstreamEndpoints;

namespace {

const auto t0 = UpstreamEndpoints::Clock::time_point{} + 1000s;

std::vector<Endpoint> three() {
  return {{"10.0.0.1", 9000}, {"10.0.0.2", 9000}, {"10.0.0.3", 9000}};
}

}  // namespace

TEST_CASE("upstream_endpoints: round-robin order, skipping endpoints in back-off") {
  UpstreamEndpoints::Options options;
  options.failure_backoff = 2000ms;
  UpstreamEndpoints endpoints(three(), options);
  std::vector<size_t> order;
  for (int i = 0; i < 6; ++i) order.push_back(endpoints.pick(t0));
  CHECK(order == std::vector<size_t>{0, 1, 2, 0, 1, 2});

  endpoints.report_connect_failure(1, t0);
  CHECK(endpoints.backing_off(1, t0 + 1s));
  order.clear();
  for (int i = 0; i < 6; ++i) order.push_back(endpoints.pick(t0 + 1s));
  for (size_t e : order) CHECK(e != 1);

  // After the back-off the endpoint is tried again.
  CHECK_FALSE(endpoints.backing_off(1, t0 + 3s));
  bool saw_one = false;
  for (int i = 0; i < 3; ++i) saw_one = saw_one || endpoints.pick(t0 + 3s) == 1;
  CHECK(saw_one);

  // A successful connect ends the back-off early.
  endpoints.report_connect_failure(2, t0);
  endpoints.report_connected(2);
  CHECK_FALSE(endpoints.backing_off(2, t0));
}

TEST_CASE("upstream_endpoints: all in back-off -> plain round-robin; pick_other skips") {
  UpstreamEndpoints endpoints(three());
  for (size_t i = 0; i < 3; ++i) endpoints.report_connect_failure(i, t0);
  std::vector<size_t> order;
  for (int i = 0; i < 3; ++i) order.push_back(endpoints.pick(t0));
  CHECK(order == std::vector<size_t>{0, 1, 2});
  CHECK_FALSE(endpoints.pick_other(0, t0));
  endpoints.report_connected(2);
  REQUIRE(endpoints.pick_other(0, t0));
  CHECK(*endpoints.pick_other(0, t0) == 2);
  CHECK(*endpoints.pick_other(1, t0) == 2);
  CHECK_FALSE(endpoints.pick_other(2, t0));  // never the failed one itself
}
