// Several endpoints per upstream: the affinity table, round-robin
// and passive health (common/upstream/upstream_endpoints.h), the pool spreading and
// failing over between real sockets, the config keys, and the router's
// affinity rules (proxy/router/upstream_affinity.h, proxy/router/upstream_shared.h).
#include <doctest/doctest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/core/c_handles.h"
#include "common/upstream/affinity_table.h"
#include "common/upstream/upstream_endpoints.h"
#include "common/upstream/upstream_pool.h"
#include "proxy/config/config.h"
#include "proxy/router/upstream_affinity.h"
#include "proxy/router/upstream_shared.h"
#include "raw_test_server.h"

using namespace std::chrono_literals;
using mag::EventBasePtr;
using mag::http::AffinityTable;
using mag::http::ClientError;
using mag::http::ClientStreamCallbacks;
using mag::http::Endpoint;
using mag::http::RequestHead;
using mag::http::ResponseHead;
using mag::http::StartOptions;
using mag::http::UpstreamEndpoints;
using mag::http::UpstreamPool;
using mag::testing::RawConn;
using mag::testing::RawRequest;
using mag::testing::RawServer;
using mag::testing::run_until;

namespace {

const auto t0 = AffinityTable::Clock::time_point{} + 1000s;

std::vector<Endpoint> three() {
  return {{"10.0.0.1", 9000}, {"10.0.0.2", 9000}, {"10.0.0.3", 9000}};
}

struct Recorder : ClientStreamCallbacks {
  std::optional<ResponseHead> head;
  std::string body;
  bool complete = false;
  std::optional<ClientError> error;
  void on_response_head(ResponseHead&& h, bool end_stream) override {
    head = std::move(h);
    complete = end_stream;
  }
  void on_response_body(std::string_view data, bool end_stream) override {
    body.append(data);
    complete = complete || end_stream;
  }
  void on_error(ClientError e, std::string_view) override { error = e; }
  bool finished() const { return complete || error.has_value(); }
};

RequestHead request(std::string method = "GET") {
  RequestHead h;
  h.method = std::move(method);
  h.target = h.path = "/mcp";
  return h;
}

// A port nothing listens on.
uint16_t dead_port(event_base* base) {
  RawServer closed(base);
  return closed.port();
}

std::string error_of(const mag::config::LoadResult& result) {
  REQUIRE_FALSE(result.config);
  REQUIRE(result.error);
  return result.error->message;
}

std::string config_with_upstream(const std::string& upstream_body,
                                 const std::string& route_extra = "") {
  return "listeners:\n  - address: 127.0.0.1:8000\nupstreams:\n  backend:\n" + upstream_body +
         "routes:\n  - path_prefix: /mcp\n    upstream: backend\n    auth: none\n" + route_extra;
}

}  // namespace

// ---- AffinityTable ----------------------------------------------------------

TEST_CASE("affinity_table: bind, find, rebind, forget") {
  AffinityTable table(10, 60s);
  CHECK_FALSE(table.find("s1", t0));
  table.bind("s1", 2, t0);
  REQUIRE(table.find("s1", t0));
  CHECK(*table.find("s1", t0) == 2);
  table.bind("s1", 0, t0);  // the newest endpoint wins (a re-initialized session id)
  CHECK(*table.find("s1", t0) == 0);
  table.forget("s1");
  CHECK_FALSE(table.find("s1", t0));
  CHECK(table.size() == 0);
}

TEST_CASE("affinity_table: bounded; the least recently used entry goes first") {
  AffinityTable table(3, 3600s);
  table.bind("a", 0, t0);
  table.bind("b", 1, t0 + 1s);
  table.bind("c", 0, t0 + 2s);
  CHECK(table.find("a", t0 + 3s));  // a is now the most recent; b the oldest
  table.bind("d", 1, t0 + 4s);
  CHECK(table.size() == 3);
  CHECK_FALSE(table.find("b", t0 + 5s));
  CHECK(table.find("a", t0 + 5s));
  CHECK(table.find("c", t0 + 5s));
  CHECK(table.find("d", t0 + 5s));
  table.set_limits(1, 3600s);  // shrinking evicts down to the new bound
  CHECK(table.size() == 1);
  CHECK(table.find("d", t0 + 6s));  // the most recently used one stays
}

TEST_CASE("affinity_table: idle entries expire; a lookup refreshes") {
  AffinityTable table(10, 60s);
  table.bind("s1", 1, t0);
  table.bind("s2", 1, t0);
  CHECK(table.find("s1", t0 + 50s));
  CHECK(table.find("s1", t0 + 100s));  // 50 s since its last use
  CHECK_FALSE(table.find("s2", t0 + 100s));
  CHECK_FALSE(table.find("s1", t0 + 161s));
  CHECK(table.size() == 0);
}

TEST_CASE("affinity_table: concurrent use from several threads stays consistent") {
  AffinityTable table(64, 3600s);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i % 32);
        const auto now = AffinityTable::Clock::now();
        table.bind(key, static_cast<size_t>(t), now);
        auto found = table.find(key, now);
        // Another thread may have evicted it, never re-bound it elsewhere.
        if (found && *found != static_cast<size_t>(t)) ++wrong;
        if (i % 7 == 0) table.forget(key);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
  CHECK(table.size() <= 64);
}

// ---- UpstreamEndpoints ------------------------------------------------------

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

// ---- UpstreamPool over several endpoints ------------------------------------

TEST_CASE("upstream_pool endpoints: requests alternate, each endpoint gets its own Host") {
  EventBasePtr base{event_base_new()};
  RawServer a(base.get()), b(base.get());
  for (RawServer* s : {&a, &b}) {
    s->on_request = [](RawConn& c, const RawRequest&) {
      c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    };
  }
  auto shared = std::make_shared<UpstreamEndpoints>(
      std::vector<Endpoint>{{"127.0.0.1", a.port()}, {"127.0.0.1", b.port()}});
  UpstreamPool pool(base.get(), shared);
  CHECK(pool.endpoints() == shared);
  std::vector<size_t> served;
  for (int i = 0; i < 4; ++i) {
    Recorder r;
    auto s = pool.start(request(), true, r);
    REQUIRE(run_until(base.get(), [&] { return r.finished(); }));
    REQUIRE(r.complete);
    served.push_back(s->endpoint());
  }
  CHECK(served == std::vector<size_t>{0, 1, 0, 1});
  CHECK(a.total_requests() == 2);
  CHECK(b.total_requests() == 2);
  CHECK(*a.conn(0).requests()[0].head.headers.get("Host") ==
        "127.0.0.1:" + std::to_string(a.port()));
  CHECK(*b.conn(0).requests()[0].head.headers.get("Host") ==
        "127.0.0.1:" + std::to_string(b.port()));
}

TEST_CASE("upstream_pool endpoints: a refused connect moves the request, body included") {
  EventBasePtr base{event_base_new()};
  RawServer live(base.get());
  live.on_request = [](RawConn& c, const RawRequest& req) {
    const std::string echo = req.body;
    c.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(echo.size()) + "\r\n\r\n" +
            echo);
  };
  const uint16_t dead = dead_port(base.get());
  auto shared = std::make_shared<UpstreamEndpoints>(
      std::vector<Endpoint>{{"127.0.0.1", dead}, {"127.0.0.1", live.port()}});
  UpstreamPool pool(base.get(), shared);

  Recorder r;
  RequestHead head = request("POST");
  head.headers.add("Content-Length", "11");
  auto s = pool.start(head, false, r);  // round-robin starts at the dead endpoint
  s->send_body("hello ", false);
  s->send_body("world", true);
  REQUIRE(run_until(base.get(), [&] { return r.finished(); }));
  REQUIRE_FALSE(r.error);
  CHECK(r.body == "hello world");
  CHECK(s->endpoint() == 1);
  REQUIRE(live.total_requests() == 1);
  CHECK(*live.conn(0).requests()[0].head.headers.get("Host") ==
        "127.0.0.1:" + std::to_string(live.port()));
  CHECK(shared->backing_off(0, UpstreamEndpoints::Clock::now()));

  // While the dead endpoint is in back-off, round-robin does not try it.
  for (int i = 0; i < 3; ++i) {
    Recorder next;
    auto again = pool.start(request(), true, next);
    CHECK(again->endpoint() == 1);
    REQUIRE(run_until(base.get(), [&] { return next.finished(); }));
    CHECK(next.complete);
  }
  CHECK(live.total_requests() == 4);
}

TEST_CASE("upstream_pool endpoints: a pinned request is never moved; all dead -> one error") {
  EventBasePtr base{event_base_new()};
  RawServer live(base.get());
  live.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  };
  const uint16_t dead = dead_port(base.get());
  auto shared = std::make_shared<UpstreamEndpoints>(
      std::vector<Endpoint>{{"127.0.0.1", dead}, {"127.0.0.1", live.port()}});
  UpstreamPool pool(base.get(), shared);

  StartOptions pinned;
  pinned.endpoint = 0;
  Recorder r;
  auto s = pool.start(request(), true, r, pinned);
  REQUIRE(run_until(base.get(), [&] { return r.finished(); }));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kConnectFailed);
  CHECK(live.total_requests() == 0);

  // Two dead endpoints: one move, then the error reaches the caller.
  const uint16_t dead2 = dead_port(base.get());
  auto both_dead = std::make_shared<UpstreamEndpoints>(
      std::vector<Endpoint>{{"127.0.0.1", dead}, {"127.0.0.1", dead2}});
  UpstreamPool pool2(base.get(), both_dead);
  Recorder r2;
  auto s2 = pool2.start(request(), true, r2);
  REQUIRE(run_until(base.get(), [&] { return r2.finished(); }));
  REQUIRE(r2.error);
  CHECK(*r2.error == ClientError::kConnectFailed);
}

TEST_CASE("upstream_pool: per-request timeout overrides (idle)") {
  EventBasePtr base{event_base_new()};
  RawServer server(base.get());
  // A response head and then silence, like a quiet event stream.
  server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n: hi\n\n");
  };
  UpstreamPool pool(base.get(), "127.0.0.1", server.port());  // default idle: 300 s
  StartOptions quick;
  quick.idle_timeout = 200ms;
  Recorder short_one, default_one;
  auto s1 = pool.start(request(), true, short_one, quick);
  auto s2 = pool.start(request(), true, default_one);
  REQUIRE(run_until(
      base.get(), [&] { return short_one.finished(); }, 5000ms));
  REQUIRE(short_one.error);
  CHECK(*short_one.error == ClientError::kIdleTimeout);
  CHECK(short_one.head);
  // The other stream, on the pool's default, is still open.
  CHECK(default_one.head);
  CHECK_FALSE(default_one.finished());
}

// ---- config -----------------------------------------------------------------

TEST_CASE("config: upstream endpoints and route timeouts") {
  auto result = mag::config::load_string(config_with_upstream(
      "    endpoints: [http://10.0.0.1:9000/base, \"http://[::1]:9001/base/\"]\n"
      "    idle_timeout: 600\n",
      "    timeouts: {idle_timeout: 5, connect_timeout: 2}\n"));
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  const auto& u = result.config->upstreams.at("backend");
  REQUIRE(u.endpoints.size() == 2);
  CHECK(u.endpoints[0].host == "10.0.0.1");
  CHECK(u.endpoints[0].port == 9000);
  CHECK(u.endpoints[1].host == "::1");
  CHECK(u.endpoints[1].port == 9001);
  CHECK(u.base_path == "/base");
  CHECK(u.host == "10.0.0.1");  // url/host/port repeat the first endpoint
  CHECK(u.idle_timeout == 600s);
  const auto& t = result.config->routes[0].timeouts;
  CHECK(t.idle_timeout == std::optional<std::chrono::milliseconds>(5s));
  CHECK(t.connect_timeout == std::optional<std::chrono::milliseconds>(2s));
  CHECK_FALSE(t.response_header_timeout);

  // `url` still works and makes one endpoint.
  auto single = mag::config::load_string(config_with_upstream("    url: http://127.0.0.1:9000\n"));
  REQUIRE(single.config);
  REQUIRE(single.config->upstreams.at("backend").endpoints.size() == 1);
  CHECK(single.config->upstreams.at("backend").endpoints[0].port == 9000);
  CHECK_FALSE(single.config->routes[0].timeouts.idle_timeout);
  // The default idle timeout stays long enough for quiet SSE streams.
  CHECK(single.config->upstreams.at("backend").idle_timeout >= 300s);
}

TEST_CASE("config: bad endpoints and route timeouts name file:line:column") {
  auto check_error = [](const std::string& yaml, const std::string& where,
                        const std::string& message) {
    const std::string error = error_of(mag::config::load_string(yaml, "t.yaml"));
    CAPTURE(error);
    CHECK(error.rfind("t.yaml:" + where, 0) == 0);
    CHECK(error.find(message) != std::string::npos);
  };
  check_error(config_with_upstream("    url: http://127.0.0.1:9000\n"
                                   "    endpoints: [http://127.0.0.1:9001]\n"),
              "6:5:", "upstreams.backend: 'url' and 'endpoints' are exclusive");
  check_error(config_with_upstream("    endpoints: []\n"),
              "5:16:", "upstreams.backend.endpoints: must list at least one URL");
  check_error(config_with_upstream("    endpoints: http://127.0.0.1:9001\n"),
              "5:16:", "upstreams.backend.endpoints: expected a list");
  check_error(config_with_upstream("    max_connections: 4\n"),
              "5:5:", "upstreams.backend: missing required key 'url' (or 'endpoints')");
  check_error(config_with_upstream("    endpoints:\n      - http://127.0.0.1:9001\n"
                                   "      - https://127.0.0.1:9002\n"),
              "7:9:", "upstreams.backend.endpoints[1]: 'https://127.0.0.1:9002' must be http://");
  check_error(config_with_upstream("    endpoints: [http://a:1/x, http://b:1/y]\n"),
              "5:31:", "upstreams.backend.endpoints[1]: 'http://b:1/y' has the path '/y'");
  check_error(config_with_upstream("    endpoints: [http://a:1, http://a:1/]\n"),
              "5:29:", "upstreams.backend.endpoints[1]: 'http://a:1/' is listed twice");
  check_error(config_with_upstream("    url: http://127.0.0.1:9000\n", "    timeouts: {idle: 5}\n"),
              "10:16:", "routes[0].timeouts: unknown key 'idle'");
  check_error(config_with_upstream("    url: http://127.0.0.1:9000\n",
                                   "    timeouts: {connect_timeout: 0}\n"),
              "10:33:", "routes[0].timeouts.connect_timeout: must be between 1 and 300");
}

// ---- router rules -----------------------------------------------------------

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
