#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/upstream/upstream_endpoints.h"
#include "proxy/router/upstream_affinity.h"

using mag::http::Endpoint;
using mag::http::RequestHead;
using mag::http::ResponseHead;
using mag::http::UpstreamEndpoints;

namespace {

std::vector<Endpoint> three() {
  return {{"10.0.0.1", 9000}, {"10.0.0.2", 9000}, {"10.0.0.3", 9000}};
}

RequestHead request(std::string method = "GET") {
  RequestHead h;
  h.method = std::move(method);
  h.target = h.path = "/mcp";
  return h;
}

}  // namespace

TEST_CASE("upstream_affinity: learn from responses, forget on DELETE and 404") {
  UpstreamEndpoints endpoints(three());
  RequestHead init = request("POST");
  ResponseHead created;
  created.status = 200;
  created.headers.add("Mcp-Session-Id", "abc");
  mag::proxy::learn_affinity(endpoints, init, created, 2);

  RequestHead call = request("POST");
  call.headers.add("Mcp-Session-Id", "abc");
  REQUIRE(mag::proxy::affine_endpoint(endpoints, call));
  CHECK(*mag::proxy::affine_endpoint(endpoints, call) == 2);
  CHECK_FALSE(mag::proxy::affine_endpoint(endpoints, request()));  // no session id

  // An error response does not bind anything.
  ResponseHead failed;
  failed.status = 500;
  failed.headers.add("Mcp-Session-Id", "zzz");
  mag::proxy::learn_affinity(endpoints, init, failed, 1);
  CHECK(endpoints.sessions().size() == 1);

  RequestHead del = request("DELETE");
  del.headers.add("Mcp-Session-Id", "abc");
  ResponseHead ok;
  ok.status = 200;
  mag::proxy::learn_affinity(endpoints, del, ok, 2);
  CHECK_FALSE(mag::proxy::affine_endpoint(endpoints, call));

  mag::proxy::learn_affinity(endpoints, init, created, 0);
  ResponseHead gone;
  gone.status = 404;
  mag::proxy::learn_affinity(endpoints, call, gone, 0);
  CHECK_FALSE(mag::proxy::affine_endpoint(endpoints, call));

  // The session's endpoint is unreachable: 404 + JSON-RPC -32001, binding dropped.
  mag::proxy::learn_affinity(endpoints, init, created, 1);
  auto reply = mag::proxy::session_lost(endpoints, call);
  CHECK(reply.head.status == 404);
  CHECK(reply.body.find("-32001") != std::string::npos);
  CHECK_FALSE(mag::proxy::affine_endpoint(endpoints, call));

  // One endpoint: no affinity is kept at all.
  UpstreamEndpoints single({{"127.0.0.1", 9000}});
  mag::proxy::learn_affinity(single, init, created, 0);
  CHECK(single.sessions().size() == 0);
}
