// The doctor's MCP initialize probe: the request, the targets, and how
// answers (JSON, SSE, errors, non-MCP) are read.
#include <doctest/doctest.h>

#include <string>

#include "proxy/admin/mcp_initialize_probe.h"
#include "tests/unit/json_test_util.h"

using namespace mag;

namespace {

http::FetchResult answer(int status, const std::string& content_type, const std::string& body) {
  http::FetchResult r;
  r.ok = true;
  r.status = status;
  r.body = body;
  if (!content_type.empty()) r.headers.add("Content-Type", content_type);
  return r;
}

const char* kResult = R"({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-03-26",)"
                      R"("serverInfo":{"name":"everything","version":"2.0"}}})";

}  // namespace

TEST_CASE("mcp_initialize_probe: the request is an initialize POST for 2025-06-18") {
  http::FetchRequest r = proxy::mcp_initialize_request({"http://127.0.0.1:9/mcp", "", {}, nullptr});
  CHECK(r.method == "POST");
  CHECK(r.url == "http://127.0.0.1:9/mcp");
  JsonPtr body = test::parse_json(r.body);
  REQUIRE(body);
  CHECK(test::get_string(body.get(), "method") == "initialize");
  json_t* params = json_object_get(body.get(), "params");
  CHECK(test::get_string(params, "protocolVersion") == "2025-06-18");
  CHECK(json_is_object(json_object_get(params, "capabilities")));
  bool accept = false;
  for (const auto& [name, value] : r.headers) {
    if (name == "Accept") accept = value == "application/json, text/event-stream";
    CHECK(name != "Host");
  }
  CHECK(accept);
  http::FetchRequest fixed =
      proxy::mcp_initialize_request({"http://127.0.0.1:9/mcp", "mcp.internal", {}, nullptr});
  CHECK(std::count(fixed.headers.begin(), fixed.headers.end(),
                   std::pair<std::string, std::string>{"Host", "mcp.internal"}) == 1);
}

TEST_CASE("mcp_initialize_probe: one target per endpoint, on the rewritten path") {
  auto loaded = config::load_string(R"(
listeners: [{address: "127.0.0.1:8000"}]
upstreams:
  be:
    endpoints: ["http://127.0.0.1:9001/base", "http://[::1]:9002/base"]
    credentials: {headers: {X-API-Key: probe-key}}
routes:
  - path_prefix: /a
    prefix_rewrite: /mcp
    upstream: be
    auth: none
)");
  REQUIRE_MESSAGE(loaded.config, (loaded.error ? loaded.error->message : ""));
  const auto& config = *loaded.config;
  auto targets = proxy::mcp_probe_targets(config.routes[0], config.upstreams.at("be"));
  REQUIRE(targets.size() == 2);
  CHECK(targets[0].url == "http://127.0.0.1:9001/base/mcp");
  CHECK(targets[1].url == "http://[::1]:9002/base/mcp");
  // The upstream's credentials go with the probe, as with every forwarded request.
  const std::pair<std::string, std::string> key{"X-API-Key", "probe-key"};
  for (const auto& request : {proxy::mcp_initialize_request(targets[1]),
                              proxy::mcp_session_delete_request(targets[1], "sid", "2025-06-18")}) {
    CHECK(std::count(request.headers.begin(), request.headers.end(), key) == 1);
  }
}

TEST_CASE("mcp_initialize_probe: JSON and SSE answers with a protocolVersion are healthy") {
  auto json =
      proxy::read_initialize_answer(answer(200, "application/json; charset=utf-8", kResult));
  CHECK(json.healthy);
  CHECK(json.protocol_version == "2025-03-26");
  CHECK(json.server_name == "everything");
  CHECK(json.server_version == "2.0");

  auto sse_result = answer(
      200, "text/event-stream",
      std::string(": comment\r\n\r\nevent: message\r\nid: 7\r\ndata: ") + kResult + "\r\n\r\n");
  sse_result.headers.add("Mcp-Session-Id", "sid-1");
  auto sse = proxy::read_initialize_answer(sse_result);
  CHECK(sse.healthy);
  CHECK(sse.server_name == "everything");
  CHECK(sse.session_id == "sid-1");
}

TEST_CASE("mcp_initialize_probe: what is not a healthy MCP answer says why") {
  http::FetchResult down;
  down.kind = http::FetchError::kConnect;
  down.error = "connect failed: cannot connect: Connection refused (127.0.0.1:9)";
  auto refused = proxy::read_initialize_answer(down);
  CHECK_FALSE(refused.healthy);
  CHECK(refused.problem == down.error);

  auto status = proxy::read_initialize_answer(answer(401, "application/json", "{}"));
  CHECK_FALSE(status.healthy);
  CHECK(status.problem == "answered HTTP 401");

  auto html = proxy::read_initialize_answer(answer(200, "text/html", "<p>hi</p>"));
  CHECK(html.problem.find("not an MCP server") == 0);

  auto no_version = proxy::read_initialize_answer(answer(200, "application/json", R"({"ok":1})"));
  CHECK(no_version.problem == "not an MCP server: no result.protocolVersion in the answer");

  auto rpc_error = proxy::read_initialize_answer(answer(
      200, "application/json", R"({"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"nope"}})"));
  CHECK(rpc_error.problem == "not an MCP server: initialize failed: nope");

  auto sse_other_id = proxy::read_initialize_answer(
      answer(200, "text/event-stream",
             R"(data: {"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2025-06-18"}})"
             "\n\n"));
  CHECK_FALSE(sse_other_id.healthy);
}

TEST_CASE("mcp_initialize_probe: an https upstream is probed over https with its TLS settings") {
  auto loaded = config::load_string(R"(
listeners: [{address: "127.0.0.1:8000"}]
upstreams:
  remote: {url: "https://127.0.0.1:9443/base", tls_server_name: mcp.example.com}
  plain: {url: "http://127.0.0.1:9000"}
routes:
  - {path_prefix: /r, prefix_rewrite: /mcp, upstream: remote, auth: none}
  - {path_prefix: /p, upstream: plain, auth: none}
)");
  REQUIRE_MESSAGE(loaded.config, (loaded.error ? loaded.error->message : ""));
  const auto& config = *loaded.config;
  auto remote = proxy::mcp_probe_targets(config.routes[0], config.upstreams.at("remote"));
  REQUIRE(remote.size() == 1);
  CHECK(remote[0].url == "https://127.0.0.1:9443/base/mcp");
  REQUIRE(remote[0].tls);
  CHECK(remote[0].tls->settings().server_name == "mcp.example.com");
  auto plain = proxy::mcp_probe_targets(config.routes[1], config.upstreams.at("plain"));
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].url == "http://127.0.0.1:9000/p");
  CHECK_FALSE(plain[0].tls);
}
