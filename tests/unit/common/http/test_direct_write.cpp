// ssl_write_or_queue over a socketpair: the client is a bufferevent_openssl
// in socket mode, as for https:// upstreams; the server is an OpenSSL
// connection on the other end driven by the test, so the test decides when
// the server reads. The certificate is made here and not verified: this is
// about writes.
#include <doctest/doctest.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/core/c_handles.h"
#include "common/http/direct_write.h"
#include "tests/unit/tls_test_files.h"

namespace {

mag::SslCtxPtr make_server_ctx() {
  mag::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  mag::test::X509Ptr cert = mag::test::self_signed(key.get(), "server");
  mag::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  REQUIRE(ctx);
  REQUIRE(SSL_CTX_use_certificate(ctx.get(), cert.get()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(ctx.get(), key.get()) == 1);
  return ctx;
}

struct TlsPair {
  mag::EventBasePtr base{event_base_new()};
  int fds[2] = {-1, -1};
  mag::SslCtxPtr client_ctx{SSL_CTX_new(TLS_client_method())};
  mag::SslCtxPtr server_ctx = make_server_ctx();
  mag::SslPtr server;
  mag::BufferEventPtr client;
  bool connected = false;
  short error_events = 0;

  TlsPair() {
    REQUIRE((base && client_ctx));
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    REQUIRE(evutil_make_socket_nonblocking(fds[0]) == 0);
    REQUIRE(evutil_make_socket_nonblocking(fds[1]) == 0);
    // Small buffers: a write of some hundred KiB fills the socket.
    const int small = 16 * 1024;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    mag::SslPtr ssl(SSL_new(client_ctx.get()));
    REQUIRE(ssl);
    client.reset(bufferevent_openssl_socket_new(base.get(), fds[0], ssl.get(),
                                                BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE));
    REQUIRE(client);
    ssl.release();  // the bufferevent owns it, and fds[0]
    bufferevent_setcb(client.get(), nullptr, nullptr, &TlsPair::on_event, this);
    bufferevent_enable(client.get(), EV_READ | EV_WRITE);
    server.reset(SSL_new(server_ctx.get()));
    REQUIRE(server);
    SSL_set_fd(server.get(), fds[1]);
    SSL_set_accept_state(server.get());
    for (int i = 0; i < 1000 && !(connected && SSL_is_init_finished(server.get())); ++i) {
      SSL_do_handshake(server.get());
      event_base_loop(base.get(), EVLOOP_NONBLOCK);
    }
    REQUIRE(connected);
    REQUIRE(SSL_is_init_finished(server.get()));
    // The server's session tickets reach the client.
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
  }
  ~TlsPair() {
    client.reset();
    server.reset();
    if (fds[1] >= 0) ::close(fds[1]);
  }
  static void on_event(bufferevent*, short what, void* arg) {
    auto* self = static_cast<TlsPair*>(arg);
    if (what & BEV_EVENT_CONNECTED) self->connected = true;
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) self->error_events |= what;
  }
  // What the server can read without waiting.
  std::string server_read() {
    std::string out;
    char buf[16384];
    int n;
    while ((n = SSL_read(server.get(), buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
  size_t queued() const { return evbuffer_get_length(bufferevent_get_output(client.get())); }
  bool write_armed() const { return event_pending(&client->ev_write, EV_WRITE, nullptr) != 0; }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

}  // namespace

TEST_CASE(
    "ssl_write_or_queue: nothing queued and a writable socket: written at once, no EV_WRITE") {
  TlsPair p;
  REQUIRE_FALSE(p.write_armed());
  mag::http::ssl_write_or_queue(p.client.get(), "POST /mcp HTTP/1.1\r\n\r\n");
  CHECK(p.queued() == 0);
  CHECK_FALSE(p.write_armed());
  // Readable without an event-loop turn on the client side.
  CHECK(p.server_read() == "POST /mcp HTTP/1.1\r\n\r\n");
  CHECK(p.error_events == 0);
}

TEST_CASE("ssl_write_or_queue: a full socket queues the rest, libevent finishes it in order") {
  TlsPair p;
  const std::string big = pattern(1 << 20);
  mag::http::ssl_write_or_queue(p.client.get(), big);
  // The socket took part of it at most: the rest waits in the bufferevent
  // with EV_WRITE armed (libevent repeats the SSL_write OpenSSL wants).
  REQUIRE(p.queued() > 0);
  CHECK(p.write_armed());
  // Bytes written meanwhile go behind it, not around it.
  mag::http::ssl_write_or_queue(p.client.get(), "tail");
  // While the server does not read, loop turns write nothing more.
  const size_t before = p.queued();
  for (int i = 0; i < 20; ++i) event_base_loop(p.base.get(), EVLOOP_NONBLOCK);
  CHECK(p.queued() == before);

  std::string received;
  for (int i = 0; i < 100000 && received.size() < big.size() + 4 && p.error_events == 0; ++i) {
    received += p.server_read();
    event_base_loop(p.base.get(), EVLOOP_NONBLOCK);
  }
  received += p.server_read();
  CHECK(p.error_events == 0);
  REQUIRE(received.size() == big.size() + 4);
  CHECK(received == big + "tail");
  CHECK(p.queued() == 0);
  CHECK_FALSE(p.write_armed());  // libevent disarms once drained
}

TEST_CASE("ssl_write_or_queue: bytes already queued keep their place") {
  TlsPair p;
  bufferevent_write(p.client.get(), "first ", 6);  // libevent's own path
  mag::http::ssl_write_or_queue(p.client.get(), "second");
  CHECK(p.queued() == 12);
  std::string received;
  for (int i = 0; i < 1000 && received.size() < 12; ++i) {
    event_base_loop(p.base.get(), EVLOOP_NONBLOCK);
    received += p.server_read();
  }
  CHECK(received == "first second");
}
