// The request stream alone: a ProxyStream between a fake server stream (what
// the client would receive) and a scripted loopback upstream, on a worker
// snapshot built the way a worker builds it.
#include <doctest/doctest.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"
#include "common/http/http_server.h"
#include "proxy/auth/authenticator.h"
#include "proxy/config/config.h"
#include "proxy/mcp/session_binding.h"
#include "proxy/server/gateway.h"
#include "proxy/server/proxy_stream.h"
#include "proxy/server/snapshot.h"
#include "tests/unit/raw_test_server.h"

using namespace mag;
using namespace std::chrono_literals;

namespace {

// Records what the ProxyStream sends towards the client.
class FakeServerStream : public http::ServerStream {
 public:
  explicit FakeServerStream(event_base* base) : base_(base) { info_.peer_address = "127.0.0.1"; }

  void send_head(http::ResponseHead head, bool end_stream) override {
    response = std::move(head);
    head_sent_ = true;
    ended = ended || end_stream;
  }
  void send_body(std::string_view data, bool end_stream) override {
    body.append(data);
    ended = ended || end_stream;
  }
  void send_body(evbuffer* data, bool end_stream) override {
    const size_t n = evbuffer_get_length(data);
    std::string bytes(n, '\0');
    evbuffer_remove(data, bytes.data(), n);
    send_body(bytes, end_stream);
  }
  void reset() override { was_reset = true; }
  size_t pending_bytes() const override { return 0; }
  bool above_high_watermark() const override { return false; }
  void pause_request_body(bool) override {}
  void set_idle_timeout(std::chrono::milliseconds) override {}
  const http::ConnectionInfo& connection() const override { return info_; }
  event_base* base() const override { return base_; }
  bool head_sent() const override { return head_sent_; }

  http::ResponseHead response;
  std::string body;
  bool ended = false;
  bool was_reset = false;

 private:
  event_base* base_;
  http::ConnectionInfo info_;
  bool head_sent_ = false;
};

http::RequestHead request(std::string method, std::string path) {
  http::RequestHead head;
  head.method = std::move(method);
  head.target = path;
  head.path = std::move(path);
  head.headers.add("Host", "127.0.0.1:8000");
  return head;
}

// One worker's snapshot of a config with an `auth: none` route to the
// scripted upstream.
struct Fixture {
  EventBasePtr base{event_base_new()};
  testing::RawServer upstream{base.get()};
  std::shared_ptr<Mailbox> mailbox = std::make_shared<Mailbox>(base.get());
  std::shared_ptr<const proxy::WorkerSnapshot> snapshot;

  Fixture() {
    const std::string yaml =
        "listeners: [{address: \"127.0.0.1:8000\"}]\n"
        "upstreams:\n  be: {url: \"http://127.0.0.1:" +
        std::to_string(upstream.port()) +
        "\"}\n"
        "routes: [{path_prefix: /mcp, upstream: be, auth: none}]\n";
    auto loaded = config::load_string(yaml);
    REQUIRE_MESSAGE(loaded.config, (loaded.error ? loaded.error->message : ""));
    auto shared = std::make_shared<proxy::Snapshot>();
    shared->config = loaded.config;
    shared->cors.allowed_origins = loaded.config->cors.allowed_origins;
    shared->sessions = std::make_shared<proxy::SessionBindings>(proxy::SessionBindings::Limits{
        loaded.config->authz.max_sessions, loaded.config->authz.max_sessions_per_principal,
        loaded.config->authz.session_idle_timeout});
    for (const auto& route : loaded.config->routes) {
      shared->route_policies.push_back(auth::route_policies(route, loaded.config->providers));
    }
    proxy::WorkerLoops loops;
    loops.base = base.get();
    loops.own = mailbox;
    loops.main = mailbox.get();
    snapshot = proxy::build_worker_snapshot(shared, loops, nullptr);
  }

  // What the client gets for a request without a body, with the stream gone.
  std::unique_ptr<FakeServerStream> bodiless(const std::string& method, const std::string& path) {
    auto client = std::make_unique<FakeServerStream>(base.get());
    auto stream = std::make_unique<proxy::ProxyStream>(*client, snapshot);
    stream->on_request_head(request(method, path), true);
    return client;
  }

  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      event_base_loop(base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
};

}  // namespace

TEST_CASE("proxy_stream: a path no route serves gets a local 404") {
  Fixture f;
  auto client = f.bodiless("GET", "/elsewhere");
  CHECK(client->ended);
  CHECK(client->response.status == 404);
  CHECK_MESSAGE(client->body.find("not_found") != std::string::npos, client->body);
  CHECK(f.upstream.accepted() == 0);
}

TEST_CASE("proxy_stream: a non-canonical path is refused before any route") {
  Fixture f;
  auto client = f.bodiless("GET", "/mcp/../admin");
  CHECK(client->ended);
  CHECK(client->response.status == 400);
  CHECK(f.upstream.accepted() == 0);
}

TEST_CASE("proxy_stream: a HEAD local reply has no body") {
  Fixture f;
  auto client = f.bodiless("HEAD", "/elsewhere");
  CHECK(client->ended);
  CHECK(client->response.status == 404);
  CHECK(client->body.empty());
}

TEST_CASE(
    "proxy_stream: a request on an open route reaches the upstream; its response comes back") {
  Fixture f;
  f.upstream.on_request = [](testing::RawConn& conn, const testing::RawRequest&) {
    conn.write(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
        "{\"ok\":true}");
  };
  FakeServerStream client(f.base.get());
  auto stream = std::make_unique<proxy::ProxyStream>(client, f.snapshot);
  http::RequestHead head = request("POST", "/mcp");
  head.headers.add("Content-Type", "application/json");
  head.headers.add("Content-Length", "2");
  stream->on_request_head(std::move(head), false);
  stream->on_request_body("{}", true);
  REQUIRE(f.run_until([&] { return client.ended || client.was_reset; }));
  CHECK_FALSE(client.was_reset);
  CHECK(client.response.status == 200);
  CHECK(client.body == "{\"ok\":true}");
  REQUIRE(f.upstream.accepted() == 1);
  REQUIRE(f.upstream.conn(0).requests().size() == 1);
  const testing::RawRequest& seen = f.upstream.conn(0).requests()[0];
  CHECK(seen.head.method == "POST");
  CHECK(seen.head.path == "/mcp");
  CHECK(seen.body == "{}");
}
