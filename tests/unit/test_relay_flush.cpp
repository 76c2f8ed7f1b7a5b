// Relaying an upstream read at once: UpstreamPool's
// on_response_read_done() hook and ServerStream::flush(), the pair
// ProxyStream uses so that a fan-out's events reach their clients without
// waiting for the end of the loop turn, with the write watermarks intact.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/core/c_handles.h"
#include "common/http/http_server.h"
#include "common/upstream/upstream_pool.h"
#include "raw_test_server.h"

using namespace std::chrono_literals;
using mag::EventBasePtr;
using mag::http::ClientError;
using mag::http::ClientStream;
using mag::http::ClientStreamCallbacks;
using mag::http::HttpServer;
using mag::http::RequestHead;
using mag::http::ResponseHead;
using mag::http::ServerOptions;
using mag::http::ServerStream;
using mag::http::ServerStreamHandler;
using mag::http::UpstreamPool;
using mag::testing::RawConn;
using mag::testing::RawRequest;
using mag::testing::RawServer;
using mag::testing::run_later;
using mag::testing::run_until;

namespace {

RequestHead get(std::string target = "/") {
  RequestHead h;
  h.method = "GET";
  h.target = std::move(target);
  return h;
}

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
