// Keep-alive HTTP/1.1 client pool. Structure:
//   MultiPool  one per UpstreamPool: picks the endpoint (round-robin or the
//              caller's), moves a stream whose connect failed to another one.
//   PoolCore   one per endpoint: owns every Conn (shared_ptr) and the
//              resolver; hands out streams.
//   Conn       one TCP connection: bufferevent + Http1Parser (kResponse) + timer.
//   StreamImpl the caller's handle for one exchange; owns the request framing.
// Conn and StreamImpl point at each other while an exchange runs; whichever
// side goes first detaches the other. Every libevent entry point into a Conn
// holds a shared_ptr to it, so user callbacks may destroy the stream (which
// closes the Conn) or the pool without freeing the Conn under our feet; after
// each user callback we re-check state before touching anything.
#include "common/upstream/upstream_pool.h"
#include "common/core/exception_barrier.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"
#include "common/core/log.h"
#include "common/http/content_length.h"
#include "common/http/direct_write.h"

namespace mag::http {

std::string_view to_string(ClientError e) {
  switch (e) {
    case ClientError::kConnectFailed:
      return "connect failed";
    case ClientError::kConnectTimeout:
      return "connect timeout";
    case ClientError::kResponseTimeout:
      return "response header timeout";
    case ClientError::kIdleTimeout:
      return "idle timeout";
    case ClientError::kReset:
      return "connection reset";
    case ClientError::kProtocolError:
      return "protocol error";
    case ClientError::kPoolExhausted:
      return "pool exhausted";
  }
  return "unknown";
}

namespace {

constexpr std::string_view kLog = "upstream";
// Idle connections reused sooner than this skip the MSG_PEEK liveness probe
// (see Conn::idle_and_alive).
constexpr std::chrono::milliseconds kProbeIdleAfter{1000};

using DnsBasePtr = std::unique_ptr<evdns_base, decltype([](evdns_base* d) {
                                     // 1: pending lookups end now, so their
                                     // bufferevents are released.
                                     if (d) evdns_base_free(d, 1);
                                   })>;

// Methods whose request may be sent twice without changing the outcome (RFC
// 9110 §9.2.2), restricted to those we retry.
bool is_retryable_method(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "DELETE";
}

bool method_expects_body(std::string_view m) {
  return m == "POST" || m == "PUT" || m == "PATCH";
}

class Conn;
class PoolCore;
class MultiPool;

// A stream whose connect failed may be moved to another endpoint only while
// everything it wrote is still in hand; bodies above this are not kept.
constexpr size_t kMaxReplayBytes = 64 * 1024;

class StreamImpl final : public ClientStream {
 public:
  enum class Framing { kNone, kLength, kChunked };

  StreamImpl(event_base* base, ClientStreamCallbacks& callbacks);
  ~StreamImpl() override;

  void send_body(std::string_view data, bool end_stream) override;
  void pause_response(bool paused) override;
  size_t pending_request_bytes() const override;
  size_t endpoint() const override { return endpoint_; }

  // A connection of this stream reached the upstream: bytes may have been
  // sent, so it can no longer move to another endpoint.
  void reached_upstream() {
    replayable_ = false;
    replay_body_.clear();
    replay_body_.shrink_to_fit();
    std::exchange(replay_head_, RequestHead());  // moved out: its buffers are freed
  }

  // A response head arrived: the request can no longer be retried, and a
  // streamed response may stay open for hours; its serialised head goes
  // (issue 9).
  void response_began() { std::string().swap(head_bytes_); }

  // Ends the exchange with `error`, delivered from the event loop.
  void fail_later(ClientError error, std::string detail);
  // Terminal delivery helpers; the caller must not touch `this` afterwards.
  void deliver_error(ClientError error, std::string_view detail) {
    finished_ = true;
    callbacks_.on_error(error, detail);
  }

  ClientStreamCallbacks& callbacks_;
  Conn* conn_ = nullptr;
  std::string head_bytes_;  // serialised head, kept for the one retry
  std::string method_;
  Framing framing_ = Framing::kNone;
  uint64_t body_remaining_ = 0;  // kLength only
  bool request_done_ = false;
  bool wants_close_ = false;  // the request said Connection: close
  bool retryable_ = false;
  bool retried_ = false;
  bool finished_ = false;
  bool paused_ = false;
  // Endpoint choice and failover (several endpoints).
  size_t endpoint_ = 0;
  bool replayable_ = false;  // may still move to another endpoint
  RequestHead replay_head_;  // the caller's head, without the endpoint's Host
  std::string replay_body_;  // framed body bytes written so far
  // This exchange's timeouts (the pool's, or the caller's overrides).
  std::chrono::milliseconds connect_timeout_{};
  std::chrono::milliseconds header_timeout_{};
  std::chrono::milliseconds idle_timeout_{};

 private:
  static void on_deferred(evutil_socket_t, short, void* arg) noexcept;
  EventPtr deferred_;
  ClientError deferred_error_ = ClientError::kReset;
  std::string deferred_detail_;
};

class Conn final : public Http1Parser::Callbacks, public std::enable_shared_from_this<Conn> {
 public:
  enum class State { kConnecting, kBusy, kIdle, kClosed };

  Conn(PoolCore* pool, event_base* base, const CodecLimits& limits);
  ~Conn() override = default;

  // Starts connecting; on immediate failure the error is reported later.
  void connect(std::chrono::milliseconds timeout);
  bool connected() const { return connected_; }
  // Puts `stream` on this connection and writes its head.
  void assign(StreamImpl* stream);
  // The stream went away mid-exchange: the connection cannot be reused.
  void abandon();
  // True when an idle connection still looks usable (the peer has not closed it).
  bool idle_and_alive();
  void close();
  void write(std::string_view bytes);
  void set_paused(bool paused);
  size_t pending_output() const;
  // The request body made progress: the response-header clock restarts.
  void request_progress();
  State state() const { return state_; }
  void detach_pool() { pool_ = nullptr; }
  // The pool is being destroyed: an exchange in flight ends with kReset.
  void pool_gone() {
    auto self = shared_from_this();
    fail(ClientError::kReset, "upstream pool destroyed");
  }

  // Http1Parser::Callbacks
  void on_response_head(ResponseHead&& head) override;
  void on_body(std::string_view data) override;
  void on_message_complete() override {}

 private:
  enum class Timer { kNone, kConnect, kHeader, kIdle, kKeepalive, kDeferredError, kDeferredEvent };

  static void on_read_cb(bufferevent*, void* arg) noexcept;
  static void on_event_cb(bufferevent*, short what, void* arg) noexcept;
  static void on_timer_cb(evutil_socket_t, short, void* arg) noexcept;
  static void on_resume_cb(evutil_socket_t, short, void* arg) noexcept;
  static void on_write_cb(bufferevent*, void* arg) noexcept;
  static void on_flush_cb(evutil_socket_t, short, void* arg) noexcept;
  template <typename F>
  static void guarded(void* arg, F&& f) noexcept;

  void on_event(short what);
  void on_timer();
  void flush();
  void process_input();
  void handle_eof();
  void deliver_pending_head();
  void finish_exchange();
  void fail(ClientError error, std::string detail);
  void fail_transport(std::string detail);
  void arm(Timer kind, std::chrono::milliseconds ms);
  // Mid-body silence: the timer is armed once and, when it fires, re-armed
  // for what is left after the last input (last_input_), instead of being
  // re-armed on every piece (an event_add per SSE event, issue 9).
  void restart_idle_clock();
  void note_input();
  void detach_stream();
  bool reusable() const;

  PoolCore* pool_;
  event_base* base_;
  BufferEventPtr bev_;
  EventPtr timer_;
  EventPtr resume_;
  // Writes: queued bytes leave in one writev from flush_ later in the loop
  // turn; EV_WRITE is enabled only while connecting or while the socket is
  // full (libevent adds and removes it around every request otherwise: 2
  // epoll_ctl). bufferevents start with EV_WRITE enabled.
  EventPtr flush_;
  bool write_armed_ = true;
  bool flush_queued_ = false;
  timeval idle_since_{};  // loop time at which the connection went idle
  Http1Parser parser_;
  State state_ = State::kConnecting;
  Timer timer_kind_ = Timer::kNone;
  StreamImpl* stream_ = nullptr;
  bool connected_ = false;
  bool eof_seen_ = false;
  int exchanges_done_ = 0;
  // Per exchange.
  bool response_started_ = false;  // any byte of the response arrived
  bool head_received_ = false;
  std::optional<ResponseHead> pending_head_;
  std::string version_prefix_;  // first bytes of the response: "HTTP/1.1" to reuse
  // A connect that failed synchronously, reported from the loop.
  ClientError deferred_error_ = ClientError::kConnectFailed;
  std::string deferred_detail_;
  // Inside bufferevent_socket_connect*(): an event callback arriving now
  // (a name that fails to resolve at once) is replayed from the loop, never
  // run into the half-started connect (callbacks are not deferred: issue 9).
  bool in_connect_ = false;
  short deferred_what_ = 0;
  bool body_delivered_ = false;  // this read delivered body bytes
  timeval last_input_{};         // loop time of the last response bytes
};

class PoolCore {
 public:
  PoolCore(MultiPool* owner, size_t index, event_base* base, std::string host, uint16_t port,
           PoolOptions options);
  ~PoolCore();

  std::unique_ptr<ClientStream> start(RequestHead head, bool end_stream,
                                      ClientStreamCallbacks& callbacks,
                                      const StartOptions& start_options, bool may_move);
  // Moves `stream` to a fresh connection after a reused one failed. False
  // when no connection can be opened.
  bool retry(StreamImpl* stream);
  // Takes over a stream whose connect to another endpoint failed: its head
  // gets this endpoint's Host and its body so far is written again. False
  // when no connection can be had.
  bool adopt(StreamImpl* stream);
  // A connection of `stream` failed to connect (`stream` may be null). True
  // when the stream was moved to another endpoint and lives on.
  bool connect_failed(StreamImpl* stream);
  void connected();
  void make_idle(Conn* conn);
  void remove(Conn* conn);
  size_t idle_connections() const { return idle_.size(); }
  size_t active_connections() const { return conns_.size() - idle_.size(); }

  event_base* base() const { return base_; }
  const PoolOptions& options() const { return options_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  // The resolver, created on first use; null for address literals.
  evdns_base* dns();
  const sockaddr_storage* literal() const { return literal_ ? &*literal_ : nullptr; }
  int literal_len() const { return literal_len_; }

 private:
  std::shared_ptr<Conn> acquire(bool allow_idle, std::chrono::milliseconds connect_timeout);

  MultiPool* owner_;
  size_t index_;
  event_base* base_;
  std::string host_;
  uint16_t port_;
  PoolOptions options_;
  std::string host_header_;
  std::optional<sockaddr_storage> literal_;
  int literal_len_ = 0;
  DnsBasePtr dns_;
  std::unordered_map<Conn*, std::shared_ptr<Conn>> conns_;
  std::vector<Conn*> idle_;  // most recently used last
};

// ---------------------------------------------------------------- StreamImpl

StreamImpl::StreamImpl(event_base* base, ClientStreamCallbacks& callbacks)
    : callbacks_(callbacks), deferred_(event_new(base, -1, 0, &StreamImpl::on_deferred, this)) {}

StreamImpl::~StreamImpl() {
  // Never hand a half-used connection back to the pool.
  if (conn_) conn_->abandon();
}

void StreamImpl::send_body(std::string_view data, bool end_stream) {
  if (finished_ || request_done_) return;
  std::string out;
  switch (framing_) {
    case Framing::kNone:
      if (!data.empty()) {
        fail_later(ClientError::kProtocolError, "request body sent on a request without one");
        return;
      }
      break;
    case Framing::kLength:
      if (data.size() > body_remaining_) {
        // Sending more would smuggle bytes into the next request.
        fail_later(ClientError::kProtocolError, "request body longer than its Content-Length");
        return;
      }
      body_remaining_ -= data.size();
      if (end_stream && body_remaining_ != 0) {
        fail_later(ClientError::kProtocolError, "request body shorter than its Content-Length");
        return;
      }
      out.assign(data);
      break;
    case Framing::kChunked:
      if (!data.empty()) {
        out = chunk_prefix(data.size());
        out.append(data);
        out.append(kChunkSuffix);
      }
      if (end_stream) out.append(kLastChunk);
      break;
  }
  request_done_ = end_stream;
  if (replayable_) {
    if (conn_ && conn_->connected()) {
      reached_upstream();
    } else if (replay_body_.size() + out.size() > kMaxReplayBytes) {
      reached_upstream();  // too much to keep: no failover for this one
    } else {
      replay_body_.append(out);
    }
  }
  if (conn_) {
    if (!out.empty()) conn_->write(out);
    conn_->request_progress();
  }
}

void StreamImpl::pause_response(bool paused) {
  paused_ = paused;
  if (conn_) conn_->set_paused(paused);
}

size_t StreamImpl::pending_request_bytes() const {
  return conn_ ? conn_->pending_output() : 0;
}

void StreamImpl::fail_later(ClientError error, std::string detail) {
  if (finished_) return;
  finished_ = true;  // nothing else reaches the caller
  if (conn_) conn_->abandon();
  deferred_error_ = error;
  deferred_detail_ = std::move(detail);
  if (deferred_) event_active(deferred_.get(), 0, 0);
}

void StreamImpl::on_deferred(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<StreamImpl*>(arg);
  exception_barrier(
      [&] { self->callbacks_.on_error(self->deferred_error_, self->deferred_detail_); },
      [](std::string_view what) {
        log::error(kLog, "exception in on_error: " + std::string(what));
      });
}

// ---------------------------------------------------------------------- Conn

Conn::Conn(PoolCore* pool, event_base* base, const CodecLimits& limits)
    : pool_(pool),
      base_(base),
      timer_(event_new(base, -1, 0, &Conn::on_timer_cb, this)),
      resume_(event_new(base, -1, 0, &Conn::on_resume_cb, this)),
      flush_(event_new(base, -1, 0, &Conn::on_flush_cb, this)),
      parser_(Http1Parser::Mode::kResponse, *this, limits) {}

template <typename F>
void Conn::guarded(void* arg, F&& f) noexcept {
  exception_barrier(
      [&] {
        // Keeps the Conn (and its parser) alive while user callbacks run.
        auto self = static_cast<Conn*>(arg)->shared_from_this();
        f(*self);
      },
      [](std::string_view what) {
        log::error(kLog, "exception in event callback: " + std::string(what));
      });
}

void Conn::on_read_cb(bufferevent*, void* arg) noexcept {
  guarded(arg, [](Conn& c) { c.process_input(); });
}
void Conn::on_event_cb(bufferevent*, short what, void* arg) noexcept {
  guarded(arg, [what](Conn& c) {
    if (c.in_connect_) {
      c.deferred_what_ |= what;
      c.arm(Timer::kDeferredEvent, {});
      return;
    }
    c.on_event(what);
  });
}
void Conn::on_timer_cb(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [](Conn& c) { c.on_timer(); });
}
void Conn::on_resume_cb(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [](Conn& c) { c.process_input(); });
}
void Conn::on_write_cb(bufferevent*, void* arg) noexcept {
  guarded(arg, [](Conn& c) {
    // libevent emptied its buffer (the connect, or a full socket, is over):
    // back to direct writes.
    if (c.connected_ && c.write_armed_ && c.flush_ && c.pending_output() == 0) {
      c.write_armed_ = false;
      bufferevent_disable(c.bev_.get(), EV_WRITE);
    }
  });
}
void Conn::on_flush_cb(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [](Conn& c) { c.flush(); });
}

void Conn::flush() {
  flush_queued_ = false;
  if (state_ == State::kClosed || !bev_ || write_armed_) return;
  evbuffer* out = bufferevent_get_output(bev_.get());
  if (evbuffer_get_length(out) == 0) return;
  if (!write_queued_or_arm(bev_.get())) write_armed_ = true;  // on_write_cb disarms
}

void Conn::connect(std::chrono::milliseconds timeout) {
  // No BEV_OPT_DEFER_CALLBACKS (issue 9): with it libevent reads every
  // ready socket of an epoll batch before any read callback runs, so a
  // fan-out's relayed events wait for the whole batch and every stream's
  // buffers are allocated before one is freed. A connect that fails
  // synchronously must still not call back into the code starting it:
  // in_connect_ sends such events through the timer (on_event_cb).
  bev_.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!bev_ || !timer_ || !resume_) {
    deferred_detail_ = "out of memory";
    arm(Timer::kDeferredError, {});
    return;
  }
  bufferevent_setcb(bev_.get(), &Conn::on_read_cb, &Conn::on_write_cb, &Conn::on_event_cb, this);
  arm(Timer::kConnect, timeout);
  int rc;
  in_connect_ = true;
  if (const sockaddr_storage* sa = pool_->literal()) {
    rc = bufferevent_socket_connect(bev_.get(), reinterpret_cast<const sockaddr*>(sa),
                                    pool_->literal_len());
  } else if (evdns_base* dns = pool_->dns()) {
    rc = bufferevent_socket_connect_hostname(bev_.get(), dns, AF_UNSPEC, pool_->host().c_str(),
                                             pool_->port());
  } else {
    rc = -1;
  }
  in_connect_ = false;
  if (rc != 0 && timer_kind_ != Timer::kDeferredEvent) {
    deferred_detail_ = "cannot start connecting to " + pool_->host();
    arm(Timer::kDeferredError, {});
  }
}

void Conn::assign(StreamImpl* stream) {
  stream_ = stream;
  stream->conn_ = this;
  if (exchanges_done_ > 0) parser_.next_message();
  parser_.set_request_method(stream->method_);
  response_started_ = false;
  head_received_ = false;
  pending_head_.reset();
  version_prefix_.clear();
  if (state_ == State::kIdle) state_ = State::kBusy;
  write(stream->head_bytes_);
  if (connected_) {
    stream->reached_upstream();
    arm(Timer::kHeader, stream->header_timeout_);
  }
  if (stream->paused_) set_paused(true);
}

void Conn::abandon() {
  auto self = shared_from_this();
  detach_stream();
  close();
}

void Conn::detach_stream() {
  if (stream_) stream_->conn_ = nullptr;
  stream_ = nullptr;
}

bool Conn::idle_and_alive() {
  if (state_ != State::kIdle || !bev_) return false;
  if (evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0) return false;
  // The read event stays armed while idle, so a close or stray bytes seen by
  // the loop have already removed this connection. What the loop may not
  // have dispatched yet is a FIN that arrived during this turn: servers drop
  // idle keep-alive connections on a timer of seconds, so only connections
  // idle for a while are probed (one recv per reuse under steady load is
  // the price otherwise). Idempotent requests are also retried once.
  timeval now{};
  event_base_gettimeofday_cached(base_, &now);
  const long long idle_ms =
      (now.tv_sec - idle_since_.tv_sec) * 1000LL + (now.tv_usec - idle_since_.tv_usec) / 1000;
  if (idle_ms >= 0 && idle_ms < kProbeIdleAfter.count()) return true;
  evutil_socket_t fd = bufferevent_getfd(bev_.get());
  if (fd < 0) return false;
  char byte;
  ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // 0: the peer closed; >0: bytes nobody asked for. Either way unusable.
  if (n >= 0) return false;
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

void Conn::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  detach_stream();
  if (timer_) event_del(timer_.get());
  if (resume_) event_del(resume_.get());
  if (flush_) event_del(flush_.get());
  bev_.reset();  // closes the socket; safe inside the bufferevent's own callback
  if (PoolCore* pool = pool_) {
    pool_ = nullptr;
    pool->remove(this);  // may drop the last owner; callers hold a shared_ptr
  }
}

void Conn::write(std::string_view bytes) {
  if (!bev_ || bytes.empty()) return;
  bufferevent_write(bev_.get(), bytes.data(), bytes.size());
  if (!write_armed_ && !flush_queued_ && flush_) {
    flush_queued_ = true;
    event_active(flush_.get(), 0, 0);
  }
}

void Conn::set_paused(bool paused) {
  if (!bev_ || state_ != State::kBusy) return;
  if (paused) {
    bufferevent_disable(bev_.get(), EV_READ);
    // Silence is our own doing now: the idle clock must not run.
    if (timer_kind_ == Timer::kIdle) arm(Timer::kNone, {});
    return;
  }
  if (connected_) bufferevent_enable(bev_.get(), EV_READ);
  if (head_received_) restart_idle_clock();
  // Bytes read before the pause are not announced again by libevent.
  if (resume_ && evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0)
    event_active(resume_.get(), 0, 0);
}

size_t Conn::pending_output() const {
  return bev_ ? evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
}

void Conn::request_progress() {
  if (connected_ && state_ == State::kBusy && !head_received_ && stream_)
    arm(Timer::kHeader, stream_->header_timeout_);
}

void Conn::arm(Timer kind, std::chrono::milliseconds ms) {
  timer_kind_ = kind;
  if (!timer_) return;
  if (kind == Timer::kDeferredError || kind == Timer::kDeferredEvent) {
    event_active(timer_.get(), 0, 0);
    return;
  }
  if (kind == Timer::kNone || ms.count() <= 0) {
    timer_kind_ = Timer::kNone;
    event_del(timer_.get());
    return;
  }
  timeval tv = to_timeval(ms);
  event_add(timer_.get(), &tv);
}

void Conn::on_timer() {
  switch (timer_kind_) {
    case Timer::kNone:
      return;
    case Timer::kConnect:
      fail(ClientError::kConnectTimeout, "connect timed out");
      return;
    case Timer::kHeader:
      fail(ClientError::kResponseTimeout, "no response head in time");
      return;
    case Timer::kIdle: {
      if (stream_) {
        // Input since the timer was armed moved the deadline: wait for the rest.
        timeval now{};
        event_base_gettimeofday_cached(base_, &now);
        const auto silent = std::chrono::milliseconds((now.tv_sec - last_input_.tv_sec) * 1000LL +
                                                      (now.tv_usec - last_input_.tv_usec) / 1000);
        const auto left = silent.count() < 0 ? stream_->idle_timeout_  // clock stepped back
                                             : stream_->idle_timeout_ - silent;
        if (left.count() > 0) {
          arm(Timer::kIdle, left);
          return;
        }
      }
      fail(ClientError::kIdleTimeout, "upstream silent mid-response");
      return;
    }
    case Timer::kKeepalive:
      close();
      return;
    case Timer::kDeferredError:
      fail(deferred_error_, deferred_detail_);
      return;
    case Timer::kDeferredEvent: {
      const short what = deferred_what_;
      deferred_what_ = 0;
      timer_kind_ = Timer::kNone;
      on_event(what);
      return;
    }
  }
}

void Conn::on_event(short what) {
  if (state_ == State::kClosed) return;
  if (what & BEV_EVENT_CONNECTED) {
    connected_ = true;
    evutil_socket_t fd = bufferevent_getfd(bev_.get());
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bufferevent_enable(bev_.get(), EV_READ);
    if (state_ == State::kConnecting) state_ = State::kBusy;
    if (pool_) pool_->connected();
    if (stream_) stream_->reached_upstream();
    if (stream_ && stream_->paused_) set_paused(true);
    arm(Timer::kHeader, stream_ ? stream_->header_timeout_ : std::chrono::milliseconds{});
    return;
  }
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  if (!connected_) {
    std::string detail = "cannot connect";
    if (int dns_err = bufferevent_socket_get_dns_error(bev_.get())) {
      detail = std::string("cannot resolve: ") + evutil_gai_strerror(dns_err);
    } else if (int err = EVUTIL_SOCKET_ERROR()) {
      detail = std::string("cannot connect: ") + evutil_socket_error_to_string(err);
    }
    fail(ClientError::kConnectFailed, std::move(detail));
    return;
  }
  if (state_ == State::kIdle) {
    close();  // the upstream dropped an idle keep-alive connection
    return;
  }
  int err = EVUTIL_SOCKET_ERROR();
  if (what & BEV_EVENT_EOF) {
    // Bytes still queued (read while paused) come first; process_input()
    // hands EOF to the parser once they are consumed.
    eof_seen_ = true;
    process_input();
    return;
  }
  fail_transport(std::string("upstream connection error: ") + evutil_socket_error_to_string(err));
}

void Conn::process_input() {
  if (state_ == State::kIdle) {
    close();  // bytes on an idle connection belong to no request
    return;
  }
  if (state_ != State::kBusy || !stream_ || !bev_) return;
  evbuffer* in = bufferevent_get_input(bev_.get());
  body_delivered_ = false;
  while (!stream_->paused_) {
    if (evbuffer_get_length(in) == 0) break;
    evbuffer_iovec vec{};
    if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1 || vec.iov_len == 0) break;
    const char* data = static_cast<const char*>(vec.iov_base);
    response_started_ = true;
    if (version_prefix_.size() < 8) {
      version_prefix_.append(data, std::min(vec.iov_len, 8 - version_prefix_.size()));
    }
    size_t used = parser_.feed(data, vec.iov_len);
    if (state_ != State::kBusy || !stream_) return;  // a callback ended the exchange
    evbuffer_drain(in, used);
    if (parser_.failed()) {
      fail(ClientError::kProtocolError, "malformed upstream response: " + parser_.error_message());
      return;
    }
    if (parser_.message_complete()) {
      finish_exchange();
      return;
    }
    if (pending_head_) {
      deliver_pending_head();
      if (!stream_) return;
    }
    if (used < vec.iov_len) {
      fail(ClientError::kProtocolError, "upstream response parser stalled");
      return;
    }
  }
  if (body_delivered_) {
    // Pass this read on now (the relay writes it to its client); may end
    // the exchange.
    body_delivered_ = false;
    stream_->callbacks_.on_response_read_done();
    if (state_ != State::kBusy || !stream_) return;
  }
  if (stream_->paused_) return;
  if (eof_seen_) {
    handle_eof();
    return;
  }
  if (head_received_) note_input();
}

void Conn::restart_idle_clock() {
  event_base_gettimeofday_cached(base_, &last_input_);
  arm(Timer::kIdle, stream_ ? stream_->idle_timeout_ : std::chrono::milliseconds{});
}

void Conn::note_input() {
  if (timer_kind_ == Timer::kIdle) {
    event_base_gettimeofday_cached(base_, &last_input_);
    return;
  }
  // The header timer (or nothing, with no idle timeout) gives way to the idle clock.
  if (timer_kind_ == Timer::kNone && stream_ && stream_->idle_timeout_.count() <= 0) return;
  restart_idle_clock();
}

void Conn::handle_eof() {
  parser_.feed_eof();    // completes a read-until-close body
  if (!stream_) return;  // a body callback ended the exchange
  if (parser_.message_complete()) {
    finish_exchange();
    return;
  }
  if (pending_head_) {
    deliver_pending_head();
    if (!stream_) return;
  }
  fail_transport(head_received_ ? "upstream closed the connection mid-response"
                                : "upstream closed the connection before responding");
}

void Conn::on_response_head(ResponseHead&& head) {
  if (!stream_) return;
  head_received_ = true;
  stream_->response_began();
  // Held back until we know whether a body follows (end_stream on the head).
  pending_head_ = std::move(head);
}

void Conn::on_body(std::string_view data) {
  if (!stream_) return;
  if (pending_head_) {
    deliver_pending_head();
    if (!stream_) return;
  }
  if (!data.empty()) {
    body_delivered_ = true;
    stream_->callbacks_.on_response_body(data, false);
  }
}

void Conn::deliver_pending_head() {
  ResponseHead head = std::move(*pending_head_);
  pending_head_.reset();
  stream_->callbacks_.on_response_head(std::move(head), false);
}

bool Conn::reusable() const {
  if (!pool_ || !bev_ || !stream_) return false;
  if (!stream_->request_done_ || stream_->wants_close_ || eof_seen_) return false;
  // HTTP/1.0 servers close or mis-handle keep-alive; only HTTP/1.1 is reused.
  if (version_prefix_ != "HTTP/1.1") return false;
  if (!parser_.keep_alive()) return false;
  // Bytes after the response were never asked for: the stream is out of sync.
  return evbuffer_get_length(bufferevent_get_input(bev_.get())) == 0;
}

void Conn::finish_exchange() {
  StreamImpl* stream = stream_;
  const bool reuse = reusable();
  std::optional<ResponseHead> head = std::move(pending_head_);
  pending_head_.reset();
  detach_stream();
  ++exchanges_done_;
  if (reuse) {
    state_ = State::kIdle;
    bufferevent_enable(bev_.get(), EV_READ);  // to notice the upstream closing it
    event_base_gettimeofday_cached(base_, &idle_since_);
    arm(Timer::kKeepalive, pool_->options().keepalive_timeout);
    pool_->make_idle(this);  // may close us when there are enough idle ones
  } else {
    close();
  }
  stream->finished_ = true;
  if (head) {
    stream->callbacks_.on_response_head(std::move(*head), true);
  } else {
    stream->callbacks_.on_response_body({}, true);
  }
}

void Conn::fail_transport(std::string detail) {
  // A reused connection that dies before any response byte most likely lost
  // a race with the upstream closing it: retry idempotent requests once.
  StreamImpl* stream = stream_;
  PoolCore* pool = pool_;
  if (stream && pool && exchanges_done_ > 0 && !response_started_ && stream->retryable_ &&
      !stream->retried_) {
    stream->retried_ = true;
    detach_stream();
    close();
    log::debug(kLog, "retrying on a fresh connection: " + detail);
    if (pool->retry(stream)) return;
    stream->deliver_error(ClientError::kReset, detail);
    return;
  }
  fail(ClientError::kReset, std::move(detail));
}

void Conn::fail(ClientError error, std::string detail) {
  StreamImpl* stream = stream_;
  PoolCore* pool = pool_;
  const bool connect_error = !connected_ && (error == ClientError::kConnectFailed ||
                                             error == ClientError::kConnectTimeout);
  detach_stream();
  close();
  // Nothing reached the upstream: the stream may move to another endpoint.
  if (connect_error && pool && pool->connect_failed(stream)) return;
  if (stream) stream->deliver_error(error, detail);
}

// ------------------------------------------------------------------ PoolCore

PoolCore::PoolCore(MultiPool* owner, size_t index, event_base* base, std::string host,
                   uint16_t port, PoolOptions options)
    : owner_(owner),
      index_(index),
      base_(base),
      host_(std::move(host)),
      port_(port),
      options_(options) {
  const bool v6 = host_.find(':') != std::string::npos;
  host_header_ = v6 ? "[" + host_ + "]" : host_;
  if (port_ != 80) host_header_ += ":" + std::to_string(port_);

  sockaddr_storage ss{};
  auto* v4addr = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6addr = reinterpret_cast<sockaddr_in6*>(&ss);
  if (evutil_inet_pton(AF_INET, host_.c_str(), &v4addr->sin_addr) == 1) {
    v4addr->sin_family = AF_INET;
    v4addr->sin_port = htons(port_);
    literal_ = ss;
    literal_len_ = sizeof(sockaddr_in);
  } else if (evutil_inet_pton(AF_INET6, host_.c_str(), &v6addr->sin6_addr) == 1) {
    v6addr->sin6_family = AF_INET6;
    v6addr->sin6_port = htons(port_);
    literal_ = ss;
    literal_len_ = sizeof(sockaddr_in6);
  }
}

PoolCore::~PoolCore() {
  // Detach everything first: callbacks below may destroy streams, which
  // close connections, which must not modify the maps we iterate.
  std::vector<std::shared_ptr<Conn>> conns;
  conns.reserve(conns_.size());
  for (auto& [raw, conn] : conns_) {
    conn->detach_pool();
    conns.push_back(conn);
  }
  conns_.clear();
  idle_.clear();
  for (auto& conn : conns) conn->pool_gone();
}

evdns_base* PoolCore::dns() {
  if (!dns_) dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS));
  return dns_.get();
}

std::shared_ptr<Conn> PoolCore::acquire(bool allow_idle,
                                        std::chrono::milliseconds connect_timeout) {
  while (allow_idle && !idle_.empty()) {
    Conn* raw = idle_.back();
    idle_.pop_back();
    auto conn = conns_.at(raw);
    if (conn->idle_and_alive()) return conn;
    conn->close();  // the peer closed it while it sat idle
  }
  if (conns_.size() >= options_.max_connections) return nullptr;
  auto conn = std::make_shared<Conn>(this, base_, options_.limits);
  conns_.emplace(conn.get(), conn);
  conn->connect(connect_timeout);
  return conn;
}

std::unique_ptr<ClientStream> PoolCore::start(RequestHead head, bool end_stream,
                                              ClientStreamCallbacks& callbacks,
                                              const StartOptions& start_options, bool may_move) {
  auto stream = std::make_unique<StreamImpl>(base_, callbacks);
  stream->method_ = head.method;
  stream->endpoint_ = index_;
  stream->connect_timeout_ = start_options.connect_timeout.value_or(options_.connect_timeout);
  stream->header_timeout_ =
      start_options.response_header_timeout.value_or(options_.response_header_timeout);
  stream->idle_timeout_ = start_options.idle_timeout.value_or(options_.idle_timeout);
  // The pool owns request framing; never forward a caller's Transfer-Encoding.
  head.headers.remove("Transfer-Encoding");
  stream->wants_close_ = head.headers.has_token("Connection", "close");
  if (head.headers.count("Content-Length") > 0) {
    auto length = head.headers.count("Content-Length") == 1
                      ? parse_content_length(*head.headers.get("Content-Length"))
                      : std::nullopt;
    if (!length) {
      stream->fail_later(ClientError::kProtocolError, "invalid request Content-Length");
      return stream;
    }
    stream->framing_ = StreamImpl::Framing::kLength;
    stream->body_remaining_ = *length;
  } else if (!end_stream) {
    head.headers.add("Transfer-Encoding", "chunked");
    stream->framing_ = StreamImpl::Framing::kChunked;
  } else if (method_expects_body(head.method)) {
    head.headers.add("Content-Length", "0");
  }
  stream->request_done_ = end_stream;
  stream->retryable_ = end_stream && is_retryable_method(head.method) &&
                       stream->framing_ != StreamImpl::Framing::kChunked &&
                       stream->body_remaining_ == 0;
  if (may_move && !head.headers.has("Host")) {
    stream->replayable_ = true;
    stream->replay_head_ = head;
  }
  if (!head.headers.has("Host")) head.headers.add("Host", host_header_);
  stream->head_bytes_ = serialize_request_head(head);

  auto conn = acquire(/*allow_idle=*/true, stream->connect_timeout_);
  if (!conn) {
    stream->fail_later(
        ClientError::kPoolExhausted,
        "upstream connection limit reached (" + std::to_string(options_.max_connections) + ")");
    return stream;
  }
  conn->assign(stream.get());
  return stream;
}

bool PoolCore::retry(StreamImpl* stream) {
  auto conn = acquire(/*allow_idle=*/false, stream->connect_timeout_);
  if (!conn) return false;
  conn->assign(stream);
  return true;
}

bool PoolCore::adopt(StreamImpl* stream) {
  auto conn = acquire(/*allow_idle=*/true, stream->connect_timeout_);
  if (!conn) return false;
  RequestHead head = stream->replay_head_;
  head.headers.add("Host", host_header_);
  stream->head_bytes_ = serialize_request_head(head);
  stream->endpoint_ = index_;
  std::string body = std::move(stream->replay_body_);
  stream->replay_body_.clear();
  conn->assign(stream);  // writes the head
  conn->write(body);
  return true;
}

void PoolCore::make_idle(Conn* conn) {
  if (idle_.size() >= options_.max_idle_connections) {
    conn->close();
    return;
  }
  idle_.push_back(conn);
}

void PoolCore::remove(Conn* conn) {
  std::erase(idle_, conn);
  conns_.erase(conn);
}

// ----------------------------------------------------------------- MultiPool

class MultiPool {
 public:
  MultiPool(event_base* base, std::shared_ptr<UpstreamEndpoints> endpoints, PoolOptions options)
      : endpoints_(std::move(endpoints)) {
    const auto& list = endpoints_->endpoints();
    cores_.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      cores_.push_back(
          std::make_unique<PoolCore>(this, i, base, list[i].host, list[i].port, options));
    }
  }

  std::unique_ptr<ClientStream> start(RequestHead head, bool end_stream,
                                      ClientStreamCallbacks& callbacks,
                                      const StartOptions& options) {
    const bool pinned = options.endpoint && *options.endpoint < cores_.size();
    const size_t index =
        pinned ? *options.endpoint : endpoints_->pick(UpstreamEndpoints::Clock::now());
    const bool may_move = !pinned && cores_.size() > 1;
    return cores_[index]->start(std::move(head), end_stream, callbacks, options, may_move);
  }

  // The connect of `stream` to endpoint `failed` failed: mark the endpoint
  // (passive health) and move the stream, once, to the next healthy one.
  bool connect_failed(StreamImpl* stream, size_t failed) {
    const auto now = UpstreamEndpoints::Clock::now();
    endpoints_->report_connect_failure(failed, now);
    if (!stream || !stream->replayable_) return false;
    stream->replayable_ = false;  // one move at most
    auto next = endpoints_->pick_other(failed, now);
    if (!next) return false;
    log::debug(kLog, "connect to endpoint " + std::to_string(failed) + " failed; retrying on " +
                         std::to_string(*next));
    return cores_[*next]->adopt(stream);
  }

  const std::shared_ptr<UpstreamEndpoints>& endpoints() const { return endpoints_; }
  size_t idle_connections() const {
    size_t n = 0;
    for (const auto& core : cores_) n += core->idle_connections();
    return n;
  }
  size_t active_connections() const {
    size_t n = 0;
    for (const auto& core : cores_) n += core->active_connections();
    return n;
  }

 private:
  std::shared_ptr<UpstreamEndpoints> endpoints_;
  std::vector<std::unique_ptr<PoolCore>> cores_;
};

bool PoolCore::connect_failed(StreamImpl* stream) {
  return owner_->connect_failed(stream, index_);
}

void PoolCore::connected() {
  owner_->endpoints()->report_connected(index_);
}

}  // namespace

struct UpstreamPool::Impl : MultiPool {
  using MultiPool::MultiPool;
};

UpstreamPool::UpstreamPool(event_base* base, std::string host, uint16_t port, PoolOptions options)
    : impl_(std::make_unique<Impl>(
          base, std::make_shared<UpstreamEndpoints>(std::vector<Endpoint>{{std::move(host), port}}),
          options)) {}

UpstreamPool::UpstreamPool(event_base* base, std::shared_ptr<UpstreamEndpoints> endpoints,
                           PoolOptions options)
    : impl_(std::make_unique<Impl>(base, std::move(endpoints), options)) {}

UpstreamPool::~UpstreamPool() = default;

std::unique_ptr<ClientStream> UpstreamPool::start(RequestHead head, bool end_stream,
                                                  ClientStreamCallbacks& callbacks,
                                                  const StartOptions& options) {
  return impl_->start(std::move(head), end_stream, callbacks, options);
}

const std::shared_ptr<UpstreamEndpoints>& UpstreamPool::endpoints() const {
  return impl_->endpoints();
}

size_t UpstreamPool::idle_connections() const {
  return impl_->idle_connections();
}
size_t UpstreamPool::active_connections() const {
  return impl_->active_connections();
}

}  // namespace mag::http
