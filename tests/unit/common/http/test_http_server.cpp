#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/core/c_handles.h"
#include "common/http/http1_codec.h"
#include "common/http/http_server.h"

using namespace mag::http;
using namespace std::chrono_literals;

namespace {

// Runs the loop until `done()` or the deadline; the client runs in a thread.
bool run_until(event_base* base, const std::function<bool()>& done,
               std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    timeval tv{0, 5000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
  return true;
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads one response with our own codec (client side).
struct ClientResponse : Http1Parser::Callbacks {
  ResponseHead head;
  std::string body;
  bool have_head = false;
  bool complete = false;
  bool closed = false;
  void on_response_head(ResponseHead&& h) override {
    head = std::move(h);
    have_head = true;
  }
  void on_body(std::string_view d) override { body.append(d); }
  void on_message_complete() override { complete = true; }
};

struct Client {
  explicit Client(int f) : fd(f) {}
  int fd;
  std::string leftover;
  ClientResponse read_response(const std::string& method = "GET") {
    ClientResponse r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    p.set_request_method(method);
    auto feed = [&] {
      size_t used = p.feed(leftover.data(), leftover.size());
      leftover.erase(0, used);
    };
    feed();
    char buf[4096];
    while (!r.complete && !p.failed()) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        r.closed = true;
        p.feed_eof();
        break;
      }
      leftover.append(buf, static_cast<size_t>(n));
      feed();
    }
    return r;
  }
  // True when the server closed the connection (EOF) within the receive timeout.
  bool sees_close() {
    char buf[256];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }
};

// Handler that answers when the request is complete with "METHOD path body".
struct EchoHandler : ServerStreamHandler {
  ServerStream& stream;
  RequestHead head;
  std::string body;
  explicit EchoHandler(ServerStream& s) : stream(s) {}
  void on_request_head(RequestHead&& h, bool end_stream) override {
    head = std::move(h);
    if (end_stream) respond();
  }
  void on_request_body(std::string_view data, bool end_stream) override {
    body.append(data);
    if (end_stream) respond();
  }
  void respond() {
    std::string text = head.method + " " + head.target + " " + body;
    ResponseHead rh;
    rh.headers.add("Content-Length", std::to_string(text.size()));
    rh.headers.add("Content-Type", "text/plain");
    stream.send_head(std::move(rh), false);
    stream.send_body(text, true);
  }
  void on_reset() override {}
};

struct ServerFixture {
  mag::EventBasePtr base{event_base_new()};
  std::unique_ptr<HttpServer> server;
  void start(HandlerFactory factory, ServerOptions options = {}) {
    server = std::make_unique<HttpServer>(base.get(), std::move(factory), options);
    std::string error;
    REQUIRE(server->listen("127.0.0.1:0", &error));
    REQUIRE(server->port() != 0);
  }
  // Runs `client` in a thread while the loop spins; returns when it finishes.
  void run_client(const std::function<void()>& client, std::chrono::milliseconds limit = 5000ms) {
    std::atomic<bool> done{false};
    std::thread t([&] {
      client();
      done = true;
    });
    bool finished = run_until(
        base.get(), [&] { return done.load(); }, limit);
    t.join();
    CHECK(finished);
  }
};

HandlerFactory echo_factory() {
  return [](ServerStream& s) { return std::make_unique<EchoHandler>(s); };
}

}  // namespace

TEST_CASE("http_server: split_host_port") {
  std::string host;
  uint16_t port = 0;
  CHECK(split_host_port("127.0.0.1:8000", &host, &port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 8000);
  CHECK(split_host_port("[::1]:0", &host, &port));
  CHECK(host == "::1");
  CHECK_FALSE(split_host_port("::1:80", &host, &port));
  CHECK_FALSE(split_host_port("host", &host, &port));
  CHECK_FALSE(split_host_port("host:70000", &host, &port));
  CHECK_FALSE(split_host_port(":80", &host, &port));
  CHECK_FALSE(split_host_port("h:8x", &host, &port));
}

TEST_CASE("http_server: simple GET, then keep-alive second request with a body") {
  ServerFixture f;
  f.start(echo_factory());
  ClientResponse first, second;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    first = c.read_response();
    send_all(fd.fd, "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody");
    second = c.read_response();
  });
  CHECK(first.complete);
  CHECK(first.head.status == 200);
  CHECK(first.body == "GET /hello?x=1 ");
  CHECK_FALSE(first.head.headers.has("Connection"));
  CHECK(second.complete);
  CHECK(second.body == "POST /p body");
}

TEST_CASE("http_server: pipelined requests are answered in order") {
  ServerFixture f;
  f.start(echo_factory());
  std::vector<ClientResponse> responses;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd,
             "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
             "GET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    for (int i = 0; i < 3; ++i) responses.push_back(c.read_response());
    CHECK(c.sees_close());
  });
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].body == "GET /1 ");
  CHECK(responses[1].body == "POST /2 ab");
  CHECK(responses[2].body == "GET /3 ");
  CHECK(*responses[2].head.headers.get("Connection") == "close");
}

namespace {

// Sends a chunked response in three pieces; each next piece only after the
// client confirmed the previous one arrived (proves nothing is buffered).
struct StreamingHandler : ServerStreamHandler {
  ServerStream& stream;
  std::atomic<int>& client_seen;
  int sent = 0;
  mag::EventPtr timer;
  explicit StreamingHandler(ServerStream& s, std::atomic<int>& seen)
      : stream(s), client_seen(seen) {}
  void on_request_head(RequestHead&&, bool) override {
    ResponseHead rh;
    rh.headers.add("Content-Type", "text/event-stream");
    stream.send_head(std::move(rh), false);
    stream.set_idle_timeout(0ms);
    timer.reset(event_new(stream.base(), -1, EV_PERSIST, &StreamingHandler::tick, this));
    timeval tv{0, 10000};
    event_add(timer.get(), &tv);
    send_next();
  }
  void send_next() {
    ++sent;
    stream.send_body("data: " + std::to_string(sent) + "\n\n", sent == 3);
    if (sent == 3) timer.reset();
  }
  static void tick(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<StreamingHandler*>(arg);
    if (self->client_seen.load() >= self->sent && self->sent < 3) self->send_next();
  }
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override {}
};

// Reads one StreamingHandler response up to its last chunk; `seen` tells the
// handler which event arrived.
std::string read_stream(int fd, std::atomic<int>& seen) {
  std::string raw;
  char buf[4096];
  while (raw.find("0\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    for (int i = seen + 1; i <= 3; ++i) {
      if (raw.find("data: " + std::to_string(i) + "\n\n") != std::string::npos) seen = i;
    }
  }
  return raw;
}

}  // namespace

TEST_CASE("http_server: chunked response pieces arrive incrementally") {
  ServerFixture f;
  std::atomic<int> seen{0};
  f.start([&](ServerStream& s) { return std::make_unique<StreamingHandler>(s, seen); });
  std::string raw;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    send_all(fd.fd, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n");
    raw = read_stream(fd.fd, seen);
  });
  CHECK(seen == 3);
  CHECK(raw.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(raw.find("9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n9\r\ndata: 3\n\n\r\n0\r\n\r\n") !=
        std::string::npos);
}

TEST_CASE("http_server: a keep-alive request after a streamed response (head buffer released)") {
  // The streamed head goes out from inside the request-head callback, so the
  // parser frees the request's head bytes when its feed() returns;
  // the next request on the connection must parse as usual.
  ServerFixture f;
  std::atomic<int> seen{0};
  f.start([&](ServerStream& s) { return std::make_unique<StreamingHandler>(s, seen); });
  std::string raw;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    const std::string token(800, 'b');
    for (int round = 0; round < 2; ++round) {
      seen = 0;
      send_all(fd.fd, "GET /sse/" + std::to_string(round) +
                          " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token + "\r\n\r\n");
      raw += read_stream(fd.fd, seen);
    }
  });
  CHECK(seen == 3);
  size_t streams = 0;
  for (size_t at = raw.find("HTTP/1.1 200"); at != std::string::npos;
       at = raw.find("HTTP/1.1 200", at + 1)) {
    ++streams;
  }
  CHECK(streams == 2);
  CHECK(raw.find("Connection: close") == std::string::npos);
}

TEST_CASE("http_server: bad requests get a JSON error and the connection closes") {
  ServerFixture f;
  ServerOptions options;
  options.limits.max_head_bytes = 8 * 1024;
  f.start(echo_factory(), options);
  struct Case {
    std::string request;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"GET /lf HTTP/1.1\nHost: t\n\n", 400, "bad_request"},
      {"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431,
       "request_header_fields_too_large"},
      {"GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_too_long"},
      {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"},
      {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, "http_version_not_supported"},
      {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413, "payload_too_large"},
  };
  for (const auto& tc : cases) {
    CAPTURE(tc.status);
    ClientResponse r;
    bool closed = false;
    f.run_client([&] {
      Fd fd(connect_to(f.server->port()));
      Client c{fd.fd};
      send_all(fd.fd, tc.request);
      r = c.read_response();
      closed = c.sees_close();
    });
    CHECK(r.head.status == tc.status);
    CHECK(r.head.headers.has_token("Connection", "close"));
    CHECK(*r.head.headers.get("Content-Type") == "application/json");
    CHECK(r.body.find("\"error\":\"" + tc.code + "\"") != std::string::npos);
    CHECK(r.body.find("\"error_description\":") != std::string::npos);
    CHECK(closed);
  }
}

namespace {

struct DisconnectHandler : ServerStreamHandler {
  ServerStream& stream;
  int& resets;
  int& destroyed;
  DisconnectHandler(ServerStream& s, int& r, int& d) : stream(s), resets(r), destroyed(d) {}
  ~DisconnectHandler() override { ++destroyed; }
  void on_request_head(RequestHead&&, bool) override {
    stream.send_head(ResponseHead{}, false);
    stream.send_body("first piece", false);  // then never finishes
  }
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override {
    ++resets;
    stream.send_body("must be ignored", true);  // late calls are harmless no-ops
  }
};

}  // namespace

TEST_CASE("http_server: client disconnect mid-response resets and destroys the handler") {
  ServerFixture f;
  int resets = 0;
  int destroyed = 0;
  f.start(
      [&](ServerStream& s) { return std::make_unique<DisconnectHandler>(s, resets, destroyed); });
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    send_all(fd.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    char buf[1024];
    std::string got;
    while (got.find("first piece") == std::string::npos) {
      ssize_t n = ::recv(fd.fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    CHECK(got.find("first piece") != std::string::npos);
  });  // socket closed here
  CHECK(run_until(
      f.base.get(), [&] { return destroyed == 1; }, 2000ms));
  CHECK(resets == 1);
  CHECK(run_until(
      f.base.get(), [&] { return f.server->active_connections() == 0; }, 2000ms));
}

TEST_CASE("http_server: header timeout cuts a slowloris connection with 408") {
  ServerFixture f;
  ServerOptions options;
  options.header_timeout = 300ms;
  f.start(echo_factory(), options);
  ClientResponse r;
  std::chrono::milliseconds elapsed{};
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    auto t0 = std::chrono::steady_clock::now();
    send_all(fd.fd, "GET / HTTP/1.1\r\n");
    // Trickle a header byte every 50 ms from another thread for 2 s.
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
      for (int i = 0; i < 40 && !stop; ++i) {
        send_all(fd.fd, "X");
        std::this_thread::sleep_for(50ms);
      }
    });
    Client c{fd.fd};
    r = c.read_response();
    elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    stop = true;
    trickle.join();
  });
  CHECK(r.head.status == 408);
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 1500ms);
}

TEST_CASE("http_server: keep-alive timeout closes an idle connection") {
  ServerFixture f;
  ServerOptions options;
  options.keepalive_timeout = 200ms;
  f.start(echo_factory(), options);
  bool closed = false;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(c.read_response().complete);
    closed = c.sees_close();
  });
  CHECK(closed);
}

namespace {

// Answers 401 as soon as the head arrives, without reading the body.
struct EarlyRejectHandler : ServerStreamHandler {
  ServerStream& stream;
  explicit EarlyRejectHandler(ServerStream& s) : stream(s) {}
  void on_request_head(RequestHead&&, bool) override {
    ResponseHead rh;
    rh.status = 401;
    rh.headers.add("WWW-Authenticate", "Bearer");
    stream.send_head(std::move(rh), true);
  }
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override {}
};

}  // namespace

TEST_CASE("http_server: early response before the body closes after the response") {
  ServerFixture f;
  f.start([](ServerStream& s) { return std::make_unique<EarlyRejectHandler>(s); });
  ClientResponse r;
  bool closed = false;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" +
                        std::string(5000, 'x'));
    r = c.read_response();
    send_all(fd.fd, std::string(5000, 'y'));
    closed = c.sees_close();
  });
  CHECK(r.head.status == 401);
  CHECK(*r.head.headers.get("Content-Length") == "0");
  CHECK(r.head.headers.has_token("Connection", "close"));
  CHECK(closed);
}

TEST_CASE("http_server: HTTP/1.0 response without length is delimited by close") {
  ServerFixture f;
  std::atomic<int> seen{3};  // let the streaming handler send everything at once
  f.start([&](ServerStream& s) { return std::make_unique<StreamingHandler>(s, seen); });
  std::string raw;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    send_all(fd.fd, "GET / HTTP/1.0\r\n\r\n");
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd.fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
    }
  });
  CHECK(raw.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(raw.find("Transfer-Encoding") == std::string::npos);
  CHECK(raw.find("Connection: close\r\n") != std::string::npos);
  CHECK(raw.ends_with("\r\n\r\ndata: 1\n\ndata: 2\n\ndata: 3\n\n"));
}

TEST_CASE("http_server: HEAD response carries no body") {
  ServerFixture f;
  f.start(echo_factory());
  ClientResponse head_r, get_r;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd, "HEAD /x HTTP/1.1\r\nHost: t\r\n\r\nGET /y HTTP/1.1\r\nHost: t\r\n\r\n");
    head_r = c.read_response("HEAD");
    get_r = c.read_response();
  });
  CHECK(head_r.complete);
  CHECK(head_r.body.empty());
  CHECK(*head_r.head.headers.get("Content-Length") == "8");  // length of "HEAD /x "
  CHECK(get_r.body == "GET /y ");
}

TEST_CASE("http_server: connections beyond max_connections are closed") {
  ServerFixture f;
  ServerOptions options;
  options.max_connections = 1;
  f.start(echo_factory(), options);
  ClientResponse r;
  bool second_closed = false;
  f.run_client([&] {
    Fd first(connect_to(f.server->port()));
    Client c1{first.fd};
    send_all(first.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    r = c1.read_response();  // the first is accepted and counted
    Fd second(connect_to(f.server->port()));
    Client c2{second.fd};
    second_closed = c2.sees_close();
  });
  CHECK(r.head.status == 200);
  CHECK(second_closed);
}

TEST_CASE("http_server: destroying the server resets open exchanges") {
  auto f = std::make_unique<ServerFixture>();
  int resets = 0;
  int destroyed = 0;
  f->start(
      [&](ServerStream& s) { return std::make_unique<DisconnectHandler>(s, resets, destroyed); });
  std::atomic<bool> got_piece{false};
  std::atomic<bool> release{false};
  std::thread client([&] {
    Fd fd(connect_to(f->server->port()));
    send_all(fd.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    char buf[1024];
    if (::recv(fd.fd, buf, sizeof buf, 0) > 0) got_piece = true;
    while (!release) std::this_thread::sleep_for(5ms);
  });
  CHECK(run_until(
      f->base.get(), [&] { return got_piece.load(); }, 3000ms));
  f->server.reset();
  release = true;
  client.join();
  CHECK(resets == 1);
  CHECK(destroyed == 1);
}

namespace {

// Pauses the request body at the head; the test resumes it from outside.
struct PausingHandler : ServerStreamHandler {
  ServerStream& stream;
  std::string& received;
  ServerStream*& out_stream;
  PausingHandler(ServerStream& s, std::string& r, ServerStream*& o)
      : stream(s), received(r), out_stream(o) {
    out_stream = &stream;
  }
  ~PausingHandler() override { out_stream = nullptr; }
  void on_request_head(RequestHead&&, bool) override { stream.pause_request_body(true); }
  void on_request_body(std::string_view data, bool end_stream) override {
    received.append(data);
    if (end_stream) {
      ResponseHead rh;
      stream.send_head(std::move(rh), false);
      stream.send_body("got " + std::to_string(received.size()), true);
    }
  }
  void on_reset() override {}
};

}  // namespace

TEST_CASE("http_server: pause_request_body holds the body until resumed") {
  ServerFixture f;
  std::string received;
  ServerStream* stream = nullptr;
  f.start([&](ServerStream& s) { return std::make_unique<PausingHandler>(s, received, stream); });
  std::atomic<bool> body_sent{false};
  ClientResponse r;
  std::thread client([&] {
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    body_sent = true;
    r = c.read_response();
  });
  CHECK(run_until(
      f.base.get(), [&] { return body_sent.load() && stream != nullptr; }, 3000ms));
  run_until(
      f.base.get(), [] { return false; }, 200ms);  // give it every chance to leak through
  CHECK(received.empty());
  REQUIRE(stream != nullptr);
  stream->pause_request_body(false);
  CHECK(run_until(
      f.base.get(), [&] { return r.complete; }, 3000ms));
  client.join();
  CHECK(received == "hello");
  CHECK(r.body == "got 5");
}

namespace {

// Writes 4 MiB in 64 KiB pieces, stopping above the high watermark and
// continuing from on_drained().
struct BulkHandler : ServerStreamHandler {
  static constexpr size_t kTotal = 4 << 20;
  ServerStream& stream;
  size_t sent = 0;
  int& drained_calls;
  size_t& max_pending;
  BulkHandler(ServerStream& s, int& d, size_t& m) : stream(s), drained_calls(d), max_pending(m) {}
  void on_request_head(RequestHead&&, bool) override {
    ResponseHead rh;
    rh.headers.add("Content-Length", std::to_string(kTotal));
    stream.send_head(std::move(rh), false);
    pump();
  }
  void pump() {
    std::string piece(64 * 1024, 'z');
    while (sent < kTotal && !stream.above_high_watermark()) {
      sent += piece.size();
      stream.send_body(piece, sent == kTotal);
      max_pending = std::max(max_pending, stream.pending_bytes());
    }
  }
  void on_drained() override {
    ++drained_calls;
    pump();
  }
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override {}
};

}  // namespace

TEST_CASE("http_server: write watermarks bound buffering and on_drained resumes") {
  ServerFixture f;
  ServerOptions options;
  options.write_high_watermark = 256 * 1024;
  options.write_low_watermark = 64 * 1024;
  int drained_calls = 0;
  size_t max_pending = 0;
  f.start(
      [&](ServerStream& s) { return std::make_unique<BulkHandler>(s, drained_calls, max_pending); },
      options);
  size_t body_size = 0;
  f.run_client([&] {
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    std::this_thread::sleep_for(100ms);  // let the server hit the high watermark first
    body_size = c.read_response().body.size();
  });
  CHECK(body_size == BulkHandler::kTotal);
  CHECK(drained_calls > 0);
  CHECK(max_pending <= options.write_high_watermark + 64 * 1024);
}

namespace {

struct SilentHandler : ServerStreamHandler {
  int& resets;
  explicit SilentHandler(int& r) : resets(r) {}
  void on_request_head(RequestHead&&, bool) override {}
  void on_request_body(std::string_view, bool) override {}
  void on_reset() override { ++resets; }
};

}  // namespace

TEST_CASE("http_server: stream idle timeout resets a silent exchange") {
  ServerFixture f;
  ServerOptions options;
  options.stream_idle_timeout = 200ms;
  int resets = 0;
  f.start([&](ServerStream&) { return std::make_unique<SilentHandler>(resets); }, options);
  ClientResponse incomplete_body;
  bool closed = false;
  f.run_client([&] {
    {
      Fd fd(connect_to(f.server->port()));
      Client c{fd.fd};
      send_all(fd.fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
      closed = c.sees_close();  // request complete, no response: closed without one
    }
    Fd fd(connect_to(f.server->port()));
    Client c{fd.fd};
    send_all(fd.fd, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    incomplete_body = c.read_response();  // body never completes: 408
  });
  CHECK(closed);
  CHECK(incomplete_body.head.status == 408);
  CHECK(resets == 2);
}

TEST_CASE("transport: a TLS listener with a missing certificate does not start") {
  event_base* base = event_base_new();
  REQUIRE(base);
  {
    mag::http::ServerOptions options;
    options.tls_certificate = "/nonexistent/cert.pem";
    options.tls_private_key = "/nonexistent/key.pem";
    mag::http::HttpServer server(
        base, [](mag::http::ServerStream&) { return nullptr; }, options);
    std::string error;
    CHECK_FALSE(server.listen("127.0.0.1:0", &error));
    CHECK_MESSAGE(error.find("TLS") != std::string::npos, error);
  }
  event_base_free(base);
}
