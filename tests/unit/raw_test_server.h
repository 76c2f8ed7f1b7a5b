// Test-only scripted upstream: a raw evconnlistener on 127.0.0.1:0 in the
// test's event loop. Requests are framed with Http1Parser (kRequest); what
// goes back is whatever bytes the test writes, so malformed responses,
// resets and half-sent bodies are easy to script.
#pragma once

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "common/http/http1_codec.h"

namespace mag::testing {

struct RawRequest {
  http::RequestHead head;
  std::string body;
};

class RawServer;

class RawConn final : public http::Http1Parser::Callbacks {
 public:
  RawConn(RawServer& server, bufferevent* bev);
  void write(std::string_view bytes) {
    if (bev_) bufferevent_write(bev_.get(), bytes.data(), bytes.size());
  }
  // Closes once everything written so far has been flushed.
  void close_after_write() {
    close_when_flushed_ = true;
    maybe_close();
  }
  void close() { bev_.reset(); }
  // FIN right now, even outside the loop (libevent closes freed sockets lazily).
  void shutdown_now() {
    if (bev_) ::shutdown(bufferevent_getfd(bev_.get()), SHUT_RDWR);
  }
  // Sends RST instead of FIN.
  void reset() {
    if (!bev_) return;
    linger lg{1, 0};
    setsockopt(bufferevent_getfd(bev_.get()), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    bev_.reset();
  }
  bool open() const { return bev_ != nullptr; }
  bool eof() const { return eof_; }
  const std::vector<RawRequest>& requests() const { return requests_; }
  const std::string& raw() const { return raw_; }

  void on_request_head(http::RequestHead&& head) override { current_.head = std::move(head); }
  void on_body(std::string_view data) override { current_.body.append(data); }
  void on_message_complete() override {}

 private:
  static void read_cb(bufferevent*, void* arg);
  static void write_cb(bufferevent*, void* arg) { static_cast<RawConn*>(arg)->maybe_close(); }
  static void event_cb(bufferevent*, short what, void* arg);
  void maybe_close() {
    if (close_when_flushed_ && bev_ && evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0)
      bev_.reset();
  }

  RawServer& server_;
  BufferEventPtr bev_;
  http::Http1Parser parser_;
  RawRequest current_;
  std::vector<RawRequest> requests_;
  std::string raw_;
  bool eof_ = false;
  bool close_when_flushed_ = false;
};

class RawServer {
 public:
  // Called for every complete request; may write, close or reset.
  std::function<void(RawConn&, const RawRequest&)> on_request;

  explicit RawServer(event_base* base) : base_(base) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener_.reset(evconnlistener_new_bind(base, &RawServer::accept_cb, this,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                            reinterpret_cast<sockaddr*>(&sin), sizeof sin));
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.sin_port);
  }
  uint16_t port() const { return port_; }
  event_base* base() const { return base_; }
  size_t accepted() const { return conns_.size(); }
  RawConn& conn(size_t i) { return *conns_.at(i); }
  size_t eofs() const {
    size_t n = 0;
    for (auto& c : conns_) n += c->eof() ? 1 : 0;
    return n;
  }
  size_t total_requests() const {
    size_t n = 0;
    for (auto& c : conns_) n += c->requests().size();
    return n;
  }

 private:
  static void accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
    auto* self = static_cast<RawServer*>(arg);
    bufferevent* bev = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
    self->conns_.push_back(std::make_unique<RawConn>(*self, bev));
  }

  event_base* base_;
  ListenerPtr listener_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<RawConn>> conns_;
};

inline RawConn::RawConn(RawServer& server, bufferevent* bev)
    : server_(server), bev_(bev), parser_(http::Http1Parser::Mode::kRequest, *this) {
  bufferevent_setcb(bev, &RawConn::read_cb, &RawConn::write_cb, &RawConn::event_cb, this);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

inline void RawConn::read_cb(bufferevent* bev, void* arg) {
  auto* self = static_cast<RawConn*>(arg);
  evbuffer* in = bufferevent_get_input(bev);
  std::string bytes(evbuffer_get_length(in), '\0');
  evbuffer_remove(in, bytes.data(), bytes.size());
  self->raw_ += bytes;
  size_t off = 0;
  while (off < bytes.size() && self->bev_ && !self->parser_.failed()) {
    off += self->parser_.feed(bytes.data() + off, bytes.size() - off);
    if (self->parser_.message_complete()) {
      self->requests_.push_back(std::move(self->current_));
      self->current_ = {};
      self->parser_.next_message();
      if (self->server_.on_request) self->server_.on_request(*self, self->requests_.back());
    }
  }
}

inline void RawConn::event_cb(bufferevent*, short what, void* arg) {
  auto* self = static_cast<RawConn*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    self->eof_ = true;
    self->bev_.reset();
  }
}

// Runs the loop until `done()` or the deadline; returns done().
inline bool run_until(event_base* base, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
  // A periodic tick so that EVLOOP_ONCE returns to check the predicate.
  EventPtr tick(event_new(
      base, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr));
  timeval tv{0, 5000};
  event_add(tick.get(), &tv);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    event_base_loop(base, EVLOOP_ONCE);
  }
  return done();
}

// Runs the loop for a fixed time (to show that something does NOT happen).
inline void run_for(event_base* base, std::chrono::milliseconds duration) {
  run_until(
      base, [] { return false; }, duration);
}

// Schedules `f` on the loop after `delay`.
inline void run_later(event_base* base, std::chrono::milliseconds delay, std::function<void()> f) {
  auto fn = std::make_unique<std::function<void()>>(std::move(f));  // the callback owns it
  timeval tv{static_cast<time_t>(delay.count() / 1000),
             static_cast<suseconds_t>((delay.count() % 1000) * 1000)};
  event_base_once(
      base, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* arg) {
        std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
        (*fn)();
      },
      fn.release(), &tv);
}

}  // namespace mag::testing
