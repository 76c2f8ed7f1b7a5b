#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/core/c_handles.h"
#include "common/http/http_server.h"
#include "common/upstream/upstream_endpoints.h"
#include "common/upstream/upstream_pool.h"
#include "tests/unit/raw_test_server.h"

using namespace std::chrono_literals;
using mag::EventBasePtr;
using mag::http::ClientError;
using mag::http::ClientStream;
using mag::http::ClientStreamCallbacks;
using mag::http::Endpoint;
using mag::http::HttpServer;
using mag::http::PoolOptions;
using mag::http::RequestHead;
using mag::http::ResponseHead;
using mag::http::ServerOptions;
using mag::http::ServerStream;
using mag::http::ServerStreamHandler;
using mag::http::StartOptions;
using mag::http::UpstreamEndpoints;
using mag::http::UpstreamPool;
using mag::testing::RawConn;
using mag::testing::RawRequest;
using mag::testing::RawServer;
using mag::testing::run_for;
using mag::testing::run_later;
using mag::testing::run_until;

namespace {

// Records everything the pool reports, in order.
struct Recorder : ClientStreamCallbacks {
  std::optional<ResponseHead> head;
  bool head_end_stream = false;
  std::vector<std::string> pieces;
  std::string body;
  bool complete = false;
  std::optional<ClientError> error;
  std::string error_detail;
  bool head_before_error = false;
  int callbacks_after_terminal = 0;
  std::function<void(std::string_view)> on_piece;  // test hook
  std::function<void()> on_terminal;               // test hook

  void on_response_head(ResponseHead&& h, bool end_stream) override {
    if (complete || error) ++callbacks_after_terminal;
    head = std::move(h);
    head_end_stream = end_stream;
    if (end_stream) {
      complete = true;
      if (on_terminal) on_terminal();
    }
  }
  void on_response_body(std::string_view data, bool end_stream) override {
    if (complete || error) ++callbacks_after_terminal;
    if (!data.empty()) {
      pieces.emplace_back(data);
      body.append(data);
      if (on_piece) on_piece(data);
    }
    if (end_stream) {
      complete = true;
      if (on_terminal) on_terminal();
    }
  }
  void on_error(ClientError e, std::string_view detail) override {
    if (complete || error) ++callbacks_after_terminal;
    head_before_error = head.has_value();
    error = e;
    error_detail = detail;
    if (on_terminal) on_terminal();
  }
  bool finished() const { return complete || error.has_value(); }
};

RequestHead get(std::string target = "/") {
  RequestHead h;
  h.method = "GET";
  h.target = std::move(target);
  return h;
}

const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

struct Fixture {
  EventBasePtr base{event_base_new()};
  RawServer server{base.get()};
  PoolOptions options;
  std::unique_ptr<UpstreamPool> pool;

  UpstreamPool& make_pool() {
    pool = std::make_unique<UpstreamPool>(base.get(), "127.0.0.1", server.port(), options);
    return *pool;
  }
  bool run(const Recorder& r, std::chrono::milliseconds limit = 3000ms) {
    return run_until(
        base.get(), [&] { return r.finished(); }, limit);
  }
  // The keep-alive race: the server answers a connection's first request
  // with kOk and does `later` to the next ones. Makes the pool and runs one
  // GET to completion, so the pool holds one idle connection to reuse.
  UpstreamPool& pool_with_reusable_connection(std::function<void(RawConn&)> later) {
    server.on_request = [later = std::move(later)](RawConn& c, const RawRequest&) {
      if (c.requests().size() == 1) {
        c.write(kOk);
      } else {
        later(c);
      }
    };
    auto& p = make_pool();
    Recorder first;
    auto stream = p.start(get(), true, first);
    REQUIRE(run(first));
    REQUIRE(first.complete);
    return p;
  }
};

}  // namespace

TEST_CASE("upstream_pool: simple GET with Content-Length response") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  auto& pool = f.make_pool();
  Recorder r;
  auto stream = pool.start(get("/x?y=1"), true, r);
  REQUIRE(stream);
  CHECK_FALSE(r.finished());  // nothing happens inside start()
  REQUIRE(f.run(r));
  CHECK(r.complete);
  CHECK_FALSE(r.error);
  REQUIRE(r.head);
  CHECK(r.head->status == 200);
  CHECK_FALSE(r.head_end_stream);
  CHECK(r.body == "hello");
  CHECK(r.callbacks_after_terminal == 0);
  REQUIRE(f.server.total_requests() == 1);
  const RawRequest& req = f.server.conn(0).requests()[0];
  CHECK(req.head.method == "GET");
  CHECK(req.head.target == "/x?y=1");
  REQUIRE(req.head.headers.get("Host"));
  CHECK(*req.head.headers.get("Host") == "127.0.0.1:" + std::to_string(f.server.port()));
  CHECK_FALSE(req.head.headers.has("Transfer-Encoding"));
  CHECK(pool.idle_connections() == 1);
  CHECK(pool.active_connections() == 0);
}

TEST_CASE("upstream_pool: chunked response is delivered piece by piece as it arrives") {
  Fixture f;
  bool second_sent = false;
  RawConn* upstream = nullptr;
  f.server.on_request = [&](RawConn& c, const RawRequest&) {
    upstream = &c;
    c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
        "d\r\ndata: first\n\n\r\n");
  };
  auto& pool = f.make_pool();
  Recorder r;
  bool second_sent_when_first_seen = true;
  r.on_piece = [&](std::string_view) {
    if (r.pieces.size() != 1) return;
    second_sent_when_first_seen = second_sent;
    // The server only sends the rest after the client has seen piece 1:
    // a client that buffers until the end would never complete.
    run_later(f.base.get(), 20ms, [&] {
      second_sent = true;
      upstream->write("e\r\ndata: second\n\n\r\n0\r\n\r\n");
    });
  };
  auto stream = pool.start(get("/sse"), true, r);
  REQUIRE(f.run(r));
  CHECK(r.complete);
  CHECK_FALSE(second_sent_when_first_seen);
  REQUIRE(r.pieces.size() == 2);
  CHECK(r.pieces[0] == "data: first\n\n");
  CHECK(r.pieces[1] == "data: second\n\n");
}

TEST_CASE("upstream_pool: keep-alive connection is reused") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  auto& pool = f.make_pool();
  Recorder r1;
  auto s1 = pool.start(get("/1"), true, r1);
  REQUIRE(f.run(r1));
  CHECK(r1.complete);
  s1.reset();
  Recorder r2;
  auto s2 = pool.start(get("/2"), true, r2);
  REQUIRE(f.run(r2));
  CHECK(r2.complete);
  CHECK(r2.body == "hello");
  CHECK(f.server.accepted() == 1);
  CHECK(f.server.total_requests() == 2);
  CHECK(pool.idle_connections() == 1);
}

TEST_CASE("upstream_pool: a new request can start from inside the completion callback") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  auto& pool = f.make_pool();
  Recorder r1, r2;
  std::unique_ptr<ClientStream> s2;
  r1.on_terminal = [&] { s2 = pool.start(get("/2"), true, r2); };
  auto s1 = pool.start(get("/1"), true, r1);
  REQUIRE(f.run(r2));
  CHECK(r1.complete);
  CHECK(r2.complete);
  CHECK(f.server.accepted() == 1);
}

TEST_CASE("upstream_pool: Connection: close and HTTP/1.0 responses are not reused") {
  Fixture f;
  std::string response;
  f.server.on_request = [&](RawConn& c, const RawRequest&) { c.write(response); };
  auto& pool = f.make_pool();
  SUBCASE("Connection: close") {
    response = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
  }
  SUBCASE("HTTP/1.0 keep-alive") {
    response = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
  }
  for (int i = 0; i < 2; ++i) {
    Recorder r;
    auto s = pool.start(get(), true, r);
    REQUIRE(f.run(r));
    CHECK(r.complete);
    CHECK(r.body == "ok");
  }
  CHECK(pool.idle_connections() == 0);
  CHECK(f.server.accepted() == 2);
}

TEST_CASE("upstream_pool: read-until-close body (no Content-Length) completes on EOF") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close");
    c.close_after_write();
  };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  CHECK(r.complete);
  CHECK(r.body == "until close");
  CHECK(pool.idle_connections() == 0);
}

TEST_CASE("upstream_pool: POST with a body") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  auto& pool = f.make_pool();
  RequestHead head;
  head.method = "POST";
  head.target = "/mcp";
  Recorder r;
  std::unique_ptr<ClientStream> s;
  SUBCASE("Content-Length set by the caller") {
    head.headers.add("Content-Length", "6");
    head.headers.add("Transfer-Encoding", "chunked");  // dropped: the caller's CL frames it
    s = pool.start(head, false, r);
    s->send_body("abc", false);
    s->send_body("def", true);
    REQUIRE(f.run(r));
    REQUIRE(f.server.total_requests() == 1);
    const RawRequest& req = f.server.conn(0).requests()[0];
    CHECK(req.body == "abcdef");
    CHECK(*req.head.headers.get("Content-Length") == "6");
    CHECK_FALSE(req.head.headers.has("Transfer-Encoding"));
  }
  SUBCASE("streamed with chunked encoding") {
    s = pool.start(head, false, r);
    s->send_body("abc", false);
    run_later(f.base.get(), 10ms, [&] { s->send_body("def", true); });
    REQUIRE(f.run(r));
    REQUIRE(f.server.total_requests() == 1);
    const RawRequest& req = f.server.conn(0).requests()[0];
    CHECK(req.body == "abcdef");
    CHECK(req.head.headers.has_token("Transfer-Encoding", "chunked"));
    CHECK_FALSE(req.head.headers.has("Content-Length"));
    CHECK(f.server.conn(0).raw().find("3\r\nabc\r\n") != std::string::npos);
  }
  SUBCASE("no body: Content-Length: 0") {
    s = pool.start(head, true, r);
    REQUIRE(f.run(r));
    const RawRequest& req = f.server.conn(0).requests()[0];
    CHECK(*req.head.headers.get("Content-Length") == "0");
  }
  CHECK(r.complete);
  CHECK(r.body == "hello");
}

TEST_CASE("upstream_pool: body longer than the caller's Content-Length is refused") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  auto& pool = f.make_pool();
  RequestHead head;
  head.method = "POST";
  head.target = "/";
  head.headers.add("Content-Length", "2");
  Recorder r;
  auto s = pool.start(head, false, r);
  s->send_body("abc", true);
  CHECK_FALSE(r.finished());  // reported from the loop, not inside send_body
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kProtocolError);
  run_for(f.base.get(), 30ms);
  CHECK(f.server.conn(0).raw().find("abc") == std::string::npos);
}

TEST_CASE("upstream_pool: connection refused -> kConnectFailed") {
  EventBasePtr base{event_base_new()};
  uint16_t port;
  {
    RawServer closed(base.get());
    port = closed.port();
  }  // listener closed: nothing listens on `port` now
  UpstreamPool pool(base.get(), "127.0.0.1", port);
  Recorder r;
  auto s = pool.start(get(), true, r);
  CHECK_FALSE(r.finished());
  REQUIRE(run_until(base.get(), [&] { return r.finished(); }));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kConnectFailed);
  CHECK_FALSE(r.head_before_error);
  CHECK(pool.active_connections() == 0);
}

TEST_CASE("upstream_pool: host names are resolved (localhost)") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  UpstreamPool pool(f.base.get(), "localhost", f.server.port());
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  // localhost may resolve to ::1 first, where nothing listens: then the
  // failure must be a clean connect failure.
  if (r.error) {
    CHECK(*r.error == ClientError::kConnectFailed);
  } else {
    CHECK(r.body == "hello");
  }
}

TEST_CASE("upstream_pool: unresolvable host fails in the connect phase") {
  EventBasePtr base{event_base_new()};
  PoolOptions options;
  options.connect_timeout = 3000ms;  // a machine without a reachable resolver times out
  UpstreamPool pool(base.get(), "no-such-host.invalid", 80, options);
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(run_until(
      base.get(), [&] { return r.finished(); }, 5000ms));
  REQUIRE(r.error);
  CHECK((*r.error == ClientError::kConnectFailed || *r.error == ClientError::kConnectTimeout));
  CHECK(pool.active_connections() == 0);
}

TEST_CASE("upstream_pool: connect timeout") {
  // A listener whose accept queue is full: the kernel drops further SYNs,
  // so a connect neither succeeds nor fails.
  EventBasePtr base{event_base_new()};
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(lfd >= 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
  REQUIRE(listen(lfd, 0) == 0);
  socklen_t len = sizeof sin;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sin), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {  // fill the queue (non-blocking: the later ones stay pending)
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    fillers.push_back(fd);
  }
  PoolOptions options;
  options.connect_timeout = 150ms;
  UpstreamPool pool(base.get(), "127.0.0.1", ntohs(sin.sin_port), options);
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(run_until(base.get(), [&] { return r.finished(); }));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kConnectTimeout);
  CHECK(pool.active_connections() == 0);
  for (int fd : fillers) close(fd);
  close(lfd);
}

TEST_CASE("upstream_pool: response-header timeout") {
  Fixture f;  // the server reads the request and never answers
  f.options.response_header_timeout = 100ms;
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kResponseTimeout);
  CHECK(std::chrono::steady_clock::now() - t0 >= 90ms);
  CHECK(f.server.total_requests() == 1);
  run_until(f.base.get(), [&] { return f.server.eofs() == 1; });
  CHECK(f.server.eofs() == 1);  // the connection was closed, not pooled
  CHECK(pool.idle_connections() == 0);
}

TEST_CASE("upstream_pool: idle timeout mid-body") {
  Fixture f;
  f.options.idle_timeout = 100ms;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kIdleTimeout);
  CHECK(r.head_before_error);
  CHECK(r.body == "abc");
}

TEST_CASE("upstream_pool: malformed responses -> kProtocolError") {
  Fixture f;
  std::string response;
  f.server.on_request = [&](RawConn& c, const RawRequest&) { c.write(response); };
  auto& pool = f.make_pool();
  SUBCASE("bad status line") {
    response = "HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n";
  }
  SUBCASE("not HTTP at all") {
    response = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  }
  SUBCASE("Content-Length with Transfer-Encoding") {
    response =
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  }
  SUBCASE("duplicate Content-Length") {
    response = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 5\r\n\r\nhello";
  }
  SUBCASE("bad chunk size") {
    response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
  }
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kProtocolError);
  CHECK(r.callbacks_after_terminal == 0);
  CHECK(pool.idle_connections() == 0);
}

TEST_CASE("upstream_pool: peer closing mid-body -> kReset after the head") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    c.close_after_write();
  };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kReset);
  CHECK(r.head_before_error);
  CHECK(r.body == "partial");
  CHECK_FALSE(r.complete);
}

TEST_CASE("upstream_pool: peer closing before any response -> kReset without head") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.close(); };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kReset);
  CHECK_FALSE(r.head_before_error);
  CHECK(f.server.accepted() == 1);  // a fresh connection is not retried
}

TEST_CASE("upstream_pool: destroying the stream mid-response closes the upstream connection") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
  };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(run_until(f.base.get(), [&] { return !r.pieces.empty(); }));
  s.reset();
  REQUIRE(run_until(f.base.get(), [&] { return f.server.eofs() == 1; }));
  CHECK(pool.idle_connections() == 0);
  CHECK(pool.active_connections() == 0);
  CHECK_FALSE(r.finished());  // no callback after the caller cancelled
}

TEST_CASE("upstream_pool: the stream may be destroyed from inside its callbacks") {
  Fixture f;
  // Everything in one write: several pieces are parsed from the same buffer.
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n");
  };
  auto& pool = f.make_pool();
  Recorder r;
  std::unique_ptr<ClientStream> s;
  r.on_piece = [&](std::string_view) { s.reset(); };
  s = pool.start(get(), true, r);
  REQUIRE(run_until(f.base.get(), [&] { return !r.pieces.empty(); }));
  run_for(f.base.get(), 30ms);
  CHECK(r.pieces.size() == 1);
  CHECK_FALSE(r.finished());
  CHECK(pool.idle_connections() == 0);
  REQUIRE(run_until(f.base.get(), [&] { return f.server.eofs() == 1; }));
}

TEST_CASE("upstream_pool: destroying the stream from on_error is safe") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write("garbage\r\n\r\n"); };
  auto& pool = f.make_pool();
  Recorder r;
  std::unique_ptr<ClientStream> s;
  r.on_terminal = [&] { s.reset(); };
  s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  CHECK(r.error);
  CHECK_FALSE(s);
}

TEST_CASE("upstream_pool: responses without a body end on the head") {
  Fixture f;
  std::string response;
  RequestHead head = get();
  f.server.on_request = [&](RawConn& c, const RawRequest&) { c.write(response); };
  auto& pool = f.make_pool();
  SUBCASE("HEAD") {
    head.method = "HEAD";
    response = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  }
  SUBCASE("204") {
    response = "HTTP/1.1 204 No Content\r\n\r\n";
  }
  SUBCASE("Content-Length: 0") {
    response = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
  }
  Recorder r;
  auto s = pool.start(head, true, r);
  REQUIRE(f.run(r));
  CHECK(r.complete);
  CHECK(r.head_end_stream);
  CHECK(r.pieces.empty());
  CHECK(pool.idle_connections() == 1);
}

TEST_CASE("upstream_pool: 1xx heads are skipped") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 100 Continue\r\n\r\n");
    c.write(kOk);
  };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  REQUIRE(r.head);
  CHECK(r.head->status == 200);
  CHECK(r.body == "hello");
}

TEST_CASE("upstream_pool: an idle connection closed by the peer is not reused") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write(kOk);  // keep-alive by default, but the server closes anyway
    c.close_after_write();
  };
  auto& pool = f.make_pool();
  Recorder r1;
  auto s1 = pool.start(get(), true, r1);
  REQUIRE(f.run(r1));
  CHECK(r1.complete);
  run_until(
      f.base.get(), [&] { return pool.idle_connections() == 0; }, 500ms);
  Recorder r2;
  auto s2 = pool.start(get(), true, r2);
  REQUIRE(f.run(r2));
  CHECK(r2.complete);
  CHECK(r2.body == "hello");
  CHECK(f.server.accepted() == 2);
}

// The loop normally sees an idle connection's close (its read event stays
// armed); a close it has not dispatched yet is caught by the MSG_PEEK probe
// for connections idle longer than a second (fresher ones are
// reused without the probe). Here the FIN arrives while no loop turn runs.
TEST_CASE("upstream_pool: a connection closed while idle for over a second is probed, not reused") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  auto& pool = f.make_pool();
  Recorder r1;
  auto s1 = pool.start(get(), true, r1);
  REQUIRE(f.run(r1));
  REQUIRE(r1.complete);
  REQUIRE(pool.idle_connections() == 1);
  f.server.conn(0).shutdown_now();  // FIN now; the pool's loop does not run until start()
  std::this_thread::sleep_for(1100ms);
  RequestHead post;  // not retried: only the probe can save it
  post.method = "POST";
  post.target = "/";
  post.headers.add("Content-Length", "2");
  Recorder r2;
  auto s2 = pool.start(post, false, r2);
  s2->send_body("{}", true);
  REQUIRE(f.run(r2));
  CHECK(r2.complete);
  CHECK_FALSE(r2.error);
  CHECK(f.server.accepted() == 2);
  // Nothing of the POST went to the dead connection.
  CHECK(f.server.conn(0).raw().find("POST") == std::string::npos);
}

TEST_CASE("upstream_pool: a reused connection that dies before responding") {
  Fixture f;
  // The second request on the connection is dropped without a byte.
  auto& pool = f.pool_with_reusable_connection([](RawConn& c) { c.close(); });
  REQUIRE(pool.idle_connections() == 1);

  SUBCASE("idempotent request: retried once on a fresh connection") {
    Recorder r2;
    auto s2 = pool.start(get("/again"), true, r2);
    REQUIRE(f.run(r2));
    CHECK(r2.complete);
    CHECK(r2.body == "hello");
    CHECK(f.server.accepted() == 2);
    CHECK(f.server.total_requests() == 3);
  }
  SUBCASE("POST: not retried") {
    RequestHead post;
    post.method = "POST";
    post.target = "/";
    post.headers.add("Content-Length", "2");
    Recorder r2;
    auto s2 = pool.start(post, false, r2);
    s2->send_body("{}", true);
    REQUIRE(f.run(r2));
    REQUIRE(r2.error);
    CHECK(*r2.error == ClientError::kReset);
    run_for(f.base.get(), 30ms);
    CHECK(f.server.accepted() == 1);
    CHECK(f.server.total_requests() == 2);
  }
}

TEST_CASE("upstream_pool: max_connections -> kPoolExhausted") {
  Fixture f;  // never answers: the first connection stays busy
  f.options.max_connections = 1;
  auto& pool = f.make_pool();
  Recorder r1, r2;
  auto s1 = pool.start(get(), true, r1);
  auto s2 = pool.start(get(), true, r2);
  REQUIRE(s2);
  CHECK_FALSE(r2.finished());  // not from inside start()
  REQUIRE(f.run(r2));
  REQUIRE(r2.error);
  CHECK(*r2.error == ClientError::kPoolExhausted);
  CHECK_FALSE(r1.finished());
  CHECK(pool.active_connections() == 1);
}

TEST_CASE("upstream_pool: pause_response stops delivery until resumed") {
  Fixture f;
  RawConn* upstream = nullptr;
  f.server.on_request = [&](RawConn& c, const RawRequest&) {
    upstream = &c;
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
  };
  auto& pool = f.make_pool();
  Recorder r;
  std::unique_ptr<ClientStream> s;
  r.on_piece = [&](std::string_view) {
    if (r.pieces.size() == 1) s->pause_response(true);
  };
  s = pool.start(get(), true, r);
  REQUIRE(run_until(f.base.get(), [&] { return r.pieces.size() == 1; }));
  upstream->write("6\r\nsecond\r\n0\r\n\r\n");
  run_for(f.base.get(), 50ms);
  CHECK(r.pieces.size() == 1);
  CHECK_FALSE(r.finished());
  s->pause_response(false);
  REQUIRE(f.run(r));
  CHECK(r.complete);
  CHECK(r.body == "firstsecond");
}

TEST_CASE("upstream_pool: destroying the pool fails active streams with kReset") {
  Fixture f;  // never answers
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(run_until(f.base.get(), [&] { return f.server.total_requests() == 1; }));
  (void)pool;
  f.pool.reset();
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kReset);
  s.reset();  // the stream outlives the pool safely
  REQUIRE(run_until(f.base.get(), [&] { return f.server.eofs() == 1; }));
}

TEST_CASE("upstream_pool: the pool may be destroyed from inside a stream callback") {
  Fixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n");
  };
  auto& pool = f.make_pool();
  Recorder r;
  r.on_piece = [&](std::string_view) { f.pool.reset(); };
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kReset);
  CHECK(r.pieces.size() == 1);
  CHECK(r.callbacks_after_terminal == 0);
  s.reset();
  REQUIRE(run_until(f.base.get(), [&] { return f.server.eofs() == 1; }));
}

TEST_CASE("upstream_pool: a reused connection reset (RST) before responding is retried for GET") {
  Fixture f;
  auto& pool = f.pool_with_reusable_connection([](RawConn& c) { c.reset(); });
  Recorder r2;
  auto s2 = pool.start(get(), true, r2);
  REQUIRE(f.run(r2));
  CHECK(r2.complete);
  CHECK(f.server.accepted() == 2);
}

TEST_CASE("upstream_pool: bytes after a complete response poison the connection") {
  Fixture f;
  std::string response = std::string(kOk) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  f.server.on_request = [&](RawConn& c, const RawRequest&) { c.write(response); };
  auto& pool = f.make_pool();
  Recorder r1;
  auto s1 = pool.start(get(), true, r1);
  REQUIRE(f.run(r1));
  CHECK(r1.complete);
  CHECK(r1.body == "hello");
  Recorder r2;
  auto s2 = pool.start(get(), true, r2);
  REQUIRE(f.run(r2));
  CHECK(r2.complete);
  CHECK(r2.body == "hello");  // not the stray second response
  CHECK(f.server.accepted() == 2);
}

TEST_CASE("upstream_pool: response head over the size limit -> kProtocolError") {
  Fixture f;
  f.options.limits.max_head_bytes = 1024;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nX-Big: " + std::string(4000, 'a') +
            "\r\nContent-Length: 0\r\n\r\n");
  };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  REQUIRE(r.error);
  CHECK(*r.error == ClientError::kProtocolError);
  CHECK_FALSE(r.head_before_error);
}

TEST_CASE("upstream_pool: the idle timeout does not fire while pieces keep flowing") {
  Fixture f;
  f.options.idle_timeout = 100ms;
  RawConn* upstream = nullptr;
  f.server.on_request = [&](RawConn& c, const RawRequest&) {
    upstream = &c;
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(run_until(f.base.get(), [&] { return upstream != nullptr; }));
  // 10 pieces 30 ms apart: 300 ms in all, three times the idle timeout.
  for (int i = 1; i <= 10; ++i) {
    run_later(f.base.get(), std::chrono::milliseconds(30 * i),
              [&, i] { upstream->write(i < 10 ? "1\r\nx\r\n" : "1\r\nx\r\n0\r\n\r\n"); });
  }
  REQUIRE(f.run(r));
  CHECK(r.complete);
  CHECK(r.body == "xxxxxxxxxx");
}

TEST_CASE("upstream_pool: idle connections are closed after keepalive_timeout") {
  Fixture f;
  f.options.keepalive_timeout = 50ms;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write(kOk); };
  auto& pool = f.make_pool();
  Recorder r;
  auto s = pool.start(get(), true, r);
  REQUIRE(f.run(r));
  CHECK(pool.idle_connections() == 1);
  REQUIRE(run_until(f.base.get(), [&] { return f.server.eofs() == 1; }));
  CHECK(pool.idle_connections() == 0);
}

namespace {

// An SSE endpoint on the project's own HttpServer: one event now, the next
// one only when the test says so.
struct SseHandler : mag::http::ServerStreamHandler {
  mag::http::ServerStream& stream;
  SseHandler** registry;
  SseHandler(mag::http::ServerStream& s, SseHandler** r) : stream(s), registry(r) { *r = this; }
  ~SseHandler() override {
    if (*registry == this) *registry = nullptr;
  }
  void on_request_head(RequestHead&&, bool) override {
    ResponseHead head;
    head.headers.add("Content-Type", "text/event-stream");
    stream.send_head(std::move(head), false);
    stream.send_body("data: one\n\n", false);
  }
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override {}
};

}  // namespace

TEST_CASE("upstream_pool: SSE from HttpServer flows event by event and the pool reuses it") {
  EventBasePtr base{event_base_new()};
  SseHandler* current = nullptr;
  mag::http::HttpServer server(
      base.get(),
      [&](mag::http::ServerStream& s) -> std::unique_ptr<mag::http::ServerStreamHandler> {
        return std::make_unique<SseHandler>(s, &current);
      });
  std::string error;
  REQUIRE(server.listen("127.0.0.1:0", &error));
  UpstreamPool pool(base.get(), "127.0.0.1", server.port());
  for (int round = 0; round < 2; ++round) {
    Recorder r;
    auto s = pool.start(get("/mcp"), true, r);
    REQUIRE(run_until(base.get(), [&] { return r.pieces.size() == 1; }));
    CHECK(r.pieces[0] == "data: one\n\n");
    REQUIRE(r.head);
    CHECK(*r.head->headers.get("Content-Type") == "text/event-stream");
    CHECK_FALSE(r.finished());
    REQUIRE(current);
    current->stream.send_body("data: two\n\n", true);
    REQUIRE(run_until(base.get(), [&] { return r.finished(); }));
    CHECK(r.complete);
    CHECK(r.body == "data: one\n\ndata: two\n\n");
  }
  CHECK(server.active_connections() == 1);
}

namespace {

// Counts pieces and notes, at each on_response_read_done(), how many pieces
// had arrived.
struct ReadDoneRecorder : ClientStreamCallbacks {
  std::vector<std::string> pieces;
  std::vector<size_t> read_done_at;
  bool complete = false;
  std::optional<ClientError> error;
  std::function<void()> on_read_done;  // test hook
  void on_response_head(ResponseHead&&, bool end_stream) override { complete = end_stream; }
  void on_response_body(std::string_view data, bool end_stream) override {
    if (!data.empty()) pieces.emplace_back(data);
    if (end_stream) complete = true;
  }
  void on_response_read_done() override {
    read_done_at.push_back(pieces.size());
    if (on_read_done) on_read_done();
  }
  void on_error(ClientError e, std::string_view) override { error = e; }
  bool finished() const { return complete || error.has_value(); }
};

}  // namespace

TEST_CASE("upstream_pool: on_response_read_done follows each read's pieces, not the last one") {
  EventBasePtr base{event_base_new()};
  RawServer server{base.get()};
  RawConn* upstream = nullptr;
  server.on_request = [&](RawConn& c, const RawRequest&) {
    upstream = &c;
    c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Transfer-Encoding: chunked\r\n\r\nd\r\ndata: first\n\n\r\n");
  };
  UpstreamPool pool(base.get(), "127.0.0.1", server.port());
  ReadDoneRecorder r;
  auto stream = pool.start(get("/sse"), true, r);
  REQUIRE(run_until(base.get(), [&] { return r.read_done_at.size() == 1; }));
  // The hook came for the first read before the upstream wrote anything else.
  CHECK(r.read_done_at[0] == 1);
  upstream->write("e\r\ndata: second\n\n\r\n");
  REQUIRE(run_until(base.get(), [&] { return r.read_done_at.size() == 2; }));
  CHECK(r.read_done_at[1] == 2);
  upstream->write("0\r\n\r\n");  // the end: delivered with end_stream, no hook
  REQUIRE(run_until(base.get(), [&] { return r.finished(); }));
  CHECK(r.complete);
  CHECK(r.read_done_at.size() == 2);
  REQUIRE(r.pieces.size() == 2);
  CHECK(r.pieces[1] == "data: second\n\n");
}

TEST_CASE("upstream_pool: the stream may be destroyed from on_response_read_done") {
  EventBasePtr base{event_base_new()};
  RawServer server{base.get()};
  server.on_request = [&](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  };
  UpstreamPool pool(base.get(), "127.0.0.1", server.port());
  ReadDoneRecorder r;
  std::unique_ptr<ClientStream> stream = pool.start(get(), true, r);
  r.on_read_done = [&] { stream.reset(); };
  REQUIRE(run_until(base.get(), [&] { return !stream; }));
  CHECK(r.pieces.size() == 1);
  // The half-used connection is closed, not pooled, and nothing else arrives.
  REQUIRE(run_until(base.get(), [&] { return server.eofs() == 1; }));
  CHECK(pool.idle_connections() == 0);
  CHECK(pool.active_connections() == 0);
  CHECK_FALSE(r.finished());
}

TEST_CASE(
    "upstream_pool: a host name that cannot be looked up fails from the loop, not in start()") {
  // Upstream callbacks are not deferred by libevent any more: a resolver
  // that fails at once must still not call back from inside start().
  EventBasePtr base{event_base_new()};
  mag::http::PoolOptions options;
  options.connect_timeout = 3000ms;
  UpstreamPool pool(base.get(), std::string(300, 'a') + ".invalid", 80, options);
  ReadDoneRecorder r;
  auto stream = pool.start(get(), true, r);
  CHECK_FALSE(r.finished());
  REQUIRE(run_until(
      base.get(), [&] { return r.finished(); }, 5000ms));
  REQUIRE(r.error);
  CHECK((*r.error == ClientError::kConnectFailed || *r.error == ClientError::kConnectTimeout));
  CHECK(pool.active_connections() == 0);
}

namespace {

// A minimal reverse proxy over the two halves, the way ProxyStream relays:
// head and pieces passed on, flush() after each upstream read, the upstream
// paused above the client's high watermark and resumed by on_drained().
struct RelayStats {
  size_t max_pending = 0;
  size_t pauses = 0;
  size_t reads = 0;
  // What flush() left queued after the first read (head and first piece,
  // the client's socket still empty); without flush() it is all of it.
  std::optional<size_t> queued_after_first_flush;
};

struct Relay : ServerStreamHandler, ClientStreamCallbacks {
  ServerStream& stream;
  UpstreamPool& pool;
  RelayStats& stats;
  std::unique_ptr<ClientStream> upstream;
  Relay(ServerStream& s, UpstreamPool& p, RelayStats& st) : stream(s), pool(p), stats(st) {}
  void on_request_head(RequestHead&&, bool) override {
    upstream = pool.start(get("/big"), true, *this);
  }
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override { upstream.reset(); }
  void on_drained() override {
    if (upstream) upstream->pause_response(false);
  }
  void on_response_head(ResponseHead&& head, bool end_stream) override {
    stream.send_head(std::move(head), end_stream);
  }
  void on_response_body(std::string_view data, bool end_stream) override {
    stream.send_body(data, end_stream);
    stats.max_pending = std::max(stats.max_pending, stream.pending_bytes());
    if (!end_stream && upstream && stream.above_high_watermark()) {
      ++stats.pauses;
      upstream->pause_response(true);
    }
  }
  void on_response_read_done() override {
    ++stats.reads;
    const bool first = !stats.queued_after_first_flush;
    if (first) CHECK(stream.pending_bytes() > 0);  // queued by send_head/send_body
    stream.flush();
    if (first) stats.queued_after_first_flush = stream.pending_bytes();
  }
  void on_error(ClientError, std::string_view) override { stream.reset(); }
};

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TEST_CASE("relay: flush() after each upstream read keeps the watermarks with a slow client") {
  EventBasePtr base{event_base_new()};
  RawServer upstream_server{base.get()};
  constexpr size_t kTotal = 8 << 20;
  std::string body(kTotal, 'q');
  for (size_t i = 0; i < kTotal; i += 4096) body[i] = static_cast<char>('a' + (i / 4096) % 26);
  upstream_server.on_request = [&](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kTotal) + "\r\n\r\n");
    c.write(body);
  };
  UpstreamPool pool(base.get(), "127.0.0.1", upstream_server.port());
  ServerOptions options;
  options.write_high_watermark = 256 * 1024;
  options.write_low_watermark = 64 * 1024;
  RelayStats stats;
  HttpServer server(
      base.get(),
      [&](ServerStream& s) -> std::unique_ptr<ServerStreamHandler> {
        return std::make_unique<Relay>(s, pool, stats);
      },
      options);
  std::string error;
  REQUIRE(server.listen("127.0.0.1:0", &error));

  std::atomic<bool> done{false};
  std::string received;
  std::thread client([&] {
    int fd = connect_to(server.port());
    if (fd < 0) {
      done = true;
      return;
    }
    const std::string request = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
    (void)!::send(fd, request.data(), request.size(), 0);
    std::this_thread::sleep_for(300ms);  // slow client: socket buffers fill first
    char buf[65536];
    size_t header_end = std::string::npos;
    while (true) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      received.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) header_end = received.find("\r\n\r\n");
      if (header_end != std::string::npos && received.size() - header_end - 4 >= kTotal) break;
    }
    close(fd);
    done = true;
  });
  const bool finished = run_until(
      base.get(), [&] { return done.load(); }, 20000ms);
  client.join();
  REQUIRE(finished);
  const size_t header_end = received.find("\r\n\r\n");
  REQUIRE(header_end != std::string::npos);
  CHECK(received.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(received.substr(header_end + 4) == body);
  CHECK(stats.reads > 1);
  CHECK(stats.pauses > 0);  // the client's socket filled: the watermark paused the upstream
  CHECK(stats.max_pending <= options.write_high_watermark + 64 * 1024);
  REQUIRE(stats.queued_after_first_flush);
  CHECK(*stats.queued_after_first_flush == 0);  // written inside the read's callback
}

namespace {

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

}  // namespace

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
