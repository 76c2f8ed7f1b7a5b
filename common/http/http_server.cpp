// HttpServer: the listener, TLS termination and the table of open
// connections. Each accepted connection starts as HTTP/1.1
// (http1_connection.cpp) and moves to HTTP/2 (http2_connection.cpp) when ALPN
// or the h2c preface says so.
#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"
#include "common/core/log.h"
#include "common/http/http1_connection.h"
#include "common/http/http2_connection.h"
#include "common/http/server_connection.h"
#include "common/tls/tls_server_context.h"

namespace mag::http {

namespace {

constexpr std::string_view kLog = "http_server";
constexpr std::chrono::milliseconds kAcceptRetry{200};  // after EMFILE/ENFILE

void ignore_sigpipe_once() {
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

}  // namespace

// The server's state: what the listener callbacks and the connections share.
struct ServerState {
  event_base* base;
  HandlerFactory factory;
  ServerOptions options;
  ListenerPtr listener;
  EventPtr accept_retry;
  SslCtxPtr tls_ctx;  // null: cleartext listener
  std::unordered_map<ServerConnection*, std::unique_ptr<ServerConnection>> connections;
  uint16_t port = 0;
  bool accepting = true;

  ServerState(event_base* b, HandlerFactory f, ServerOptions o)
      : base(b), factory(std::move(f)), options(std::move(o)) {}

  void on_accept(evutil_socket_t fd, const sockaddr* sa);
  void on_accept_error();
  void remove(ServerConnection* c);
  // The connection turned out to speak HTTP/2: it moves to an Http2Connection.
  void hand_over_to_http2(BufferEventPtr bev, ConnectionInfo info);
};

struct HttpServer::Impl : ServerState {
  using ServerState::ServerState;
};

// --- HttpServer ---------------------------------------------------------------------

void ServerState::on_accept(evutil_socket_t fd, const sockaddr* sa) {
  if (connections.size() >= options.max_connections) {
    log::warn(kLog, "connection limit reached; closing new connection");
    evutil_closesocket(fd);
    return;
  }
  ConnectionInfo info;
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    info.peer_port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    info.peer_port = ntohs(in6->sin6_port);
  }
  info.peer_address = text;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // SSE events go out at once
  BufferEventPtr bev;
  if (tls_ctx) {
    SslPtr ssl(SSL_new(tls_ctx.get()));
    if (ssl) {
      bev.reset(bufferevent_openssl_socket_new(base, fd, ssl.get(), BUFFEREVENT_SSL_ACCEPTING,
                                               BEV_OPT_CLOSE_ON_FREE));
      // On success the bufferevent owns the SSL (freed with it, BEV_OPT_CLOSE_ON_FREE).
      if (bev) static_cast<void>(ssl.release());
    }
    if (bev) bufferevent_openssl_set_allow_dirty_shutdown(bev.get(), 1);
    info.tls = true;
  } else {
    bev.reset(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE));
  }
  if (!bev) {
    evutil_closesocket(fd);
    return;
  }
  auto conn = make_http1_connection(
      base, std::move(bev), std::move(info), factory, options, accepting,
      [this](ServerConnection* c) { remove(c); },
      [this](BufferEventPtr b, ConnectionInfo i) {
        hand_over_to_http2(std::move(b), std::move(i));
      });
  ServerConnection* key = conn.get();
  connections.emplace(key, std::move(conn));
}

void ServerState::on_accept_error() {
  int err = EVUTIL_SOCKET_ERROR();
  log::warn(kLog, std::string("accept failed: ") + evutil_socket_error_to_string(err));
  // EMFILE/ENFILE leave the connection queued: pause accepting instead of spinning.
  if (listener) evconnlistener_disable(listener.get());
  timeval tv = to_timeval(kAcceptRetry);
  evtimer_add(accept_retry.get(), &tv);
}

void ServerState::remove(ServerConnection* c) {
  connections.erase(c);
}

void ServerState::hand_over_to_http2(BufferEventPtr bev, ConnectionInfo info) {
  auto conn =
      std::make_unique<Http2Connection>(base, std::move(bev), std::move(info), factory, options,
                                        accepting, [this](ServerConnection* c) { remove(c); });
  ServerConnection* key = conn.get();
  auto* h2 = conn.get();
  connections.emplace(key, std::move(conn));
  if (!h2->start()) {
    log::warn(kLog, "cannot start an HTTP/2 session; closing the connection");
    connections.erase(key);
  }
}

HttpServer::HttpServer(event_base* base, HandlerFactory factory, ServerOptions options)
    : impl_(std::make_unique<Impl>(base, std::move(factory), std::move(options))) {
  ignore_sigpipe_once();
  impl_->accept_retry.reset(evtimer_new(
      base,
      [](evutil_socket_t, short, void* arg) noexcept {
        auto* impl = static_cast<Impl*>(arg);
        if (impl->listener && impl->accepting) evconnlistener_enable(impl->listener.get());
      },
      impl_.get()));
}

HttpServer::~HttpServer() {
  impl_->accepting = false;
  impl_->listener.reset();
  for (auto& [key, conn] : impl_->connections) conn->shutdown_from_server();
  impl_->connections.clear();
}

bool HttpServer::listen(const std::string& address, std::string* error) {
  auto set_error = [&](std::string e) {
    if (error) *error = std::move(e);
    return false;
  };
  if (impl_->listener) return set_error("already listening");
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(address, &host, &port)) return set_error("invalid address: " + address);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &result); rc != 0) {
    return set_error("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, CDeleter<freeaddrinfo>> owned(result);
  if (!impl_->options.tls_certificate.empty() || !impl_->options.tls_private_key.empty()) {
    std::string tls_error;
    impl_->tls_ctx =
        tls::make_server_context(impl_->options.tls_certificate, impl_->options.tls_private_key,
                                 &impl_->options.enable_http2, &tls_error);
    if (!impl_->tls_ctx) return set_error("TLS: " + tls_error);
  }
  unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
  if (impl_->options.reuse_port) flags |= LEV_OPT_REUSEABLE_PORT;
  impl_->listener.reset(evconnlistener_new_bind(
      impl_->base,
      [](evconnlistener*, evutil_socket_t fd, sockaddr* sa, int, void* arg) noexcept {
        try {
          static_cast<Impl*>(arg)->on_accept(fd, sa);
        } catch (...) {
          log::error(kLog, "accept handling failed");
          evutil_closesocket(fd);
        }
      },
      impl_.get(), flags, 511, result->ai_addr, static_cast<int>(result->ai_addrlen)));
  if (!impl_->listener)
    return set_error("cannot listen on " + address + ": " + std::strerror(errno));
  evconnlistener_set_error_cb(impl_->listener.get(), [](evconnlistener*, void* arg) noexcept {
    try {
      static_cast<Impl*>(arg)->on_accept_error();
    } catch (...) {
    }
  });
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(evconnlistener_get_fd(impl_->listener.get()), reinterpret_cast<sockaddr*>(&bound),
                  &len) == 0) {
    impl_->port = bound.ss_family == AF_INET6
                      ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  return true;
}

uint16_t HttpServer::port() const {
  return impl_->port;
}

void HttpServer::stop_accepting() {
  impl_->accepting = false;
  impl_->listener.reset();
}

bool HttpServer::reload_tls(const std::string& certificate, const std::string& private_key,
                            std::string* error) {
  const bool want_tls = !certificate.empty() || !private_key.empty();
  if (want_tls != static_cast<bool>(impl_->tls_ctx)) {
    if (error) *error = "switching between TLS and cleartext needs a new listener address";
    return false;
  }
  if (!want_tls) return true;
  ServerOptions next = impl_->options;
  next.tls_certificate = certificate;
  next.tls_private_key = private_key;
  std::string tls_error;
  // Each SSL holds a reference to its SSL_CTX: connections made with the old
  // context keep it alive until they close.
  SslCtxPtr ctx =
      tls::make_server_context(certificate, private_key, &impl_->options.enable_http2, &tls_error);
  if (!ctx) {
    if (error) *error = "TLS: " + tls_error;
    return false;
  }
  impl_->options.tls_certificate = certificate;
  impl_->options.tls_private_key = private_key;
  impl_->tls_ctx = std::move(ctx);
  return true;
}

void HttpServer::drain() {
  stop_accepting();
  // drain() may close (and schedule the removal of) connections: iterate a copy.
  std::vector<ServerConnection*> open;
  open.reserve(impl_->connections.size());
  for (auto& [key, conn] : impl_->connections) open.push_back(key);
  for (ServerConnection* c : open) c->drain();
}

size_t HttpServer::active_connections() const {
  return impl_->connections.size();
}

bool split_host_port(std::string_view address, std::string* host, uint16_t* port) {
  std::string_view h;
  std::string_view p;
  if (address.starts_with('[')) {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return false;
    }
    h = address.substr(1, close - 1);
    p = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = address.substr(0, colon);
    p = address.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) return false;  // bare IPv6 needs brackets
  }
  if (h.empty() || p.empty() || p.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || end != p.data() + p.size() || value > 65535) return false;
  if (host) *host = std::string(h);
  if (port) *port = static_cast<uint16_t>(value);
  return true;
}

bool probe_bind(const std::string& address, std::string* error) {
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(address, &host, &port)) {
    *error = "invalid address: " + address;
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &result); rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return false;
  }
  std::unique_ptr<addrinfo, CDeleter<freeaddrinfo>> owned(result);
  const int fd = socket(result->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok = ::bind(fd, result->ai_addr, result->ai_addrlen) == 0;
  const int bind_errno = errno;
  ::close(fd);
  if (!ok) *error = "cannot listen on " + address + ": " + std::strerror(bind_errno);
  return ok;
}

}  // namespace mag::http
