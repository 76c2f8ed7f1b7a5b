#include "common/upstream/upstream_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/core/event_loop.h"
#include "common/core/exception_barrier.h"
#include "common/core/log.h"
#include "common/core/socket_peer.h"
#include "common/http/content_length.h"
#include "common/http/direct_write.h"
#include "common/upstream/endpoint_pool.h"
#include "common/upstream/upstream_stream.h"

namespace mag::http {

namespace {

constexpr std::string_view kLog = "upstream";
// Idle connections reused sooner than this skip the MSG_PEEK liveness probe
// (see UpstreamConnection::idle_and_alive).
constexpr std::chrono::milliseconds kProbeIdleAfter{1000};

}  // namespace

UpstreamConnection::UpstreamConnection(EndpointPool* pool, event_base* base,
                                       const CodecLimits& limits)
    : pool_(pool),
      base_(base),
      timer_(event_new(base, -1, 0, &UpstreamConnection::on_timer_cb, this)),
      resume_(event_new(base, -1, 0, &UpstreamConnection::on_resume_cb, this)),
      flush_(event_new(base, -1, 0, &UpstreamConnection::on_flush_cb, this)),
      parser_(Http1Parser::Mode::kResponse, *this, limits) {}

template <typename F>
void UpstreamConnection::guarded(void* arg, F&& f) noexcept {
  exception_barrier(
      [&] {
        // Keeps the UpstreamConnection (and its parser) alive while user callbacks run.
        auto self = static_cast<UpstreamConnection*>(arg)->shared_from_this();
        f(*self);
      },
      [](std::string_view what) {
        log::error(kLog, "exception in event callback: " + std::string(what));
      });
}

void UpstreamConnection::on_read_cb(bufferevent*, void* arg) noexcept {
  guarded(arg, [](UpstreamConnection& c) { c.process_input(); });
}
void UpstreamConnection::on_event_cb(bufferevent*, short what, void* arg) noexcept {
  guarded(arg, [what](UpstreamConnection& c) {
    if (c.in_connect_) {
      c.deferred_what_ |= what;
      c.arm(Timer::kDeferredEvent, {});
      return;
    }
    c.on_event(what);
  });
}
void UpstreamConnection::on_timer_cb(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [](UpstreamConnection& c) { c.on_timer(); });
}
void UpstreamConnection::on_resume_cb(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [](UpstreamConnection& c) { c.process_input(); });
}
void UpstreamConnection::on_write_cb(bufferevent*, void* arg) noexcept {
  guarded(arg, [](UpstreamConnection& c) {
    // libevent emptied its buffer (the connect, or a full socket, is over):
    // back to direct writes.
    // TLS connections write with SSL_write from flush() or through
    // libevent (records, not bytes): nothing to disarm here.
    if (c.connected_ && c.write_armed_ && c.flush_ && !c.tls_ && c.pending_output() == 0) {
      c.write_armed_ = false;
      bufferevent_disable(c.bev_.get(), EV_WRITE);
    }
  });
}
void UpstreamConnection::on_flush_cb(evutil_socket_t, short, void* arg) noexcept {
  guarded(arg, [](UpstreamConnection& c) { c.flush(); });
}

void UpstreamConnection::flush() {
  flush_queued_ = false;
  if (state_ == State::kClosed || !bev_) return;
  if (!tls_staged_.empty()) {
    ssl_write_or_queue(bev_.get(), tls_staged_);
    tls_staged_.clear();
    return;
  }
  if (write_armed_) return;
  evbuffer* out = bufferevent_get_output(bev_.get());
  if (evbuffer_get_length(out) == 0) return;
  if (!write_queued_or_arm(bev_.get())) write_armed_ = true;  // on_write_cb disarms
}

void UpstreamConnection::connect(std::chrono::milliseconds timeout) {
  // No BEV_OPT_DEFER_CALLBACKS: with it libevent reads every
  // ready socket of an epoll batch before any read callback runs, so a
  // fan-out's relayed events wait for the whole batch and every stream's
  // buffers are allocated before one is freed. A connect that fails
  // synchronously must still not call back into the code starting it:
  // in_connect_ sends such events through the timer (on_event_cb).
  if (const auto& tls = pool_->options().tls) {
    tls_ = true;
    std::string error;
    SslPtr ssl = tls->new_connection(pool_->host(), pool_->tls_session(), &error);
    if (!ssl) {
      deferred_error_ = ClientError::kTlsHandshake;
      deferred_detail_ = error;
      arm(Timer::kDeferredError, {});
      return;
    }
    // BEV_OPT_CLOSE_ON_FREE: the bufferevent owns the SSL from here on.
    bev_.reset(bufferevent_openssl_socket_new(base_, -1, ssl.get(), BUFFEREVENT_SSL_CONNECTING,
                                              BEV_OPT_CLOSE_ON_FREE));
    if (bev_) {
      ssl.release();
      // A server closing without close_notify ends the connection as a plain
      // EOF would: HTTP framing, not TLS, tells a complete response.
      bufferevent_openssl_set_allow_dirty_shutdown(bev_.get(), 1);
    }
  } else {
    bev_.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  }
  if (!bev_ || !timer_ || !resume_) {
    deferred_detail_ = "out of memory";
    arm(Timer::kDeferredError, {});
    return;
  }
  bufferevent_setcb(bev_.get(), &UpstreamConnection::on_read_cb, &UpstreamConnection::on_write_cb,
                    &UpstreamConnection::on_event_cb, this);
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

void UpstreamConnection::assign(UpstreamStream* stream) {
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

void UpstreamConnection::abandon() {
  auto self = shared_from_this();
  detach_stream();
  close();
}

void UpstreamConnection::detach_stream() {
  if (stream_) stream_->conn_ = nullptr;
  stream_ = nullptr;
}

bool UpstreamConnection::idle_and_alive() {
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

void UpstreamConnection::close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  detach_stream();
  if (timer_) event_del(timer_.get());
  if (resume_) event_del(resume_.get());
  if (flush_) event_del(flush_.get());
  tls_staged_.clear();
  bev_.reset();  // closes the socket; safe inside the bufferevent's own callback
  if (EndpointPool* pool = pool_) {
    pool_ = nullptr;
    pool->remove(this);  // may drop the last owner; callers hold a shared_ptr
  }
}

void UpstreamConnection::write(std::string_view bytes) {
  if (!bev_ || bytes.empty()) return;
  if (tls_ && connected_ && flush_) {
    // Collected for one SSL_write (one record, one write) from flush_.
    tls_staged_.append(bytes);
    if (!flush_queued_) {
      flush_queued_ = true;
      event_active(flush_.get(), 0, 0);
    }
    return;
  }
  bufferevent_write(bev_.get(), bytes.data(), bytes.size());
  if (!write_armed_ && !flush_queued_ && flush_) {
    flush_queued_ = true;
    event_active(flush_.get(), 0, 0);
  }
}

void UpstreamConnection::set_paused(bool paused) {
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

size_t UpstreamConnection::pending_output() const {
  return bev_ ? tls_staged_.size() + evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
}

void UpstreamConnection::request_progress() {
  if (connected_ && state_ == State::kBusy && !head_received_ && stream_)
    arm(Timer::kHeader, stream_->header_timeout_);
}

void UpstreamConnection::arm(Timer kind, std::chrono::milliseconds ms) {
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

void UpstreamConnection::on_timer() {
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

void UpstreamConnection::on_event(short what) {
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
  if (tls_ && state_ != State::kIdle) {
    // Before BEV_EVENT_CONNECTED: the handshake failed (or the TCP connect).
    // After it: a TLS 1.3 server refusing the client certificate says so
    // with an alert after the client's side of the handshake has finished.
    if (std::optional<tls::TlsFailure> failure = tls_failure()) {
      fail(tls_error(failure->reason), std::move(failure->text));
      return;
    }
  }
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

void UpstreamConnection::process_input() {
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
    if (settle_parsed()) return;
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

void UpstreamConnection::restart_idle_clock() {
  event_base_gettimeofday_cached(base_, &last_input_);
  arm(Timer::kIdle, stream_ ? stream_->idle_timeout_ : std::chrono::milliseconds{});
}

void UpstreamConnection::note_input() {
  if (timer_kind_ == Timer::kIdle) {
    event_base_gettimeofday_cached(base_, &last_input_);
    return;
  }
  // The header timer (or nothing, with no idle timeout) gives way to the idle clock.
  if (timer_kind_ == Timer::kNone && stream_ && stream_->idle_timeout_.count() <= 0) return;
  restart_idle_clock();
}

void UpstreamConnection::handle_eof() {
  parser_.feed_eof();    // completes a read-until-close body
  if (!stream_) return;  // a body callback ended the exchange
  if (settle_parsed()) return;
  fail_transport(head_received_ ? "upstream closed the connection mid-response"
                                : "upstream closed the connection before responding");
}

// After the parser has taken input: a complete response finishes the
// exchange; otherwise a head held back until now goes to the stream. True
// when the exchange is over (finished, or ended by the stream's callback).
bool UpstreamConnection::settle_parsed() {
  if (parser_.message_complete()) {
    finish_exchange();
    return true;
  }
  if (pending_head_) {
    deliver_pending_head();
    if (!stream_) return true;
  }
  return false;
}

void UpstreamConnection::on_response_head(ResponseHead&& head) {
  if (!stream_) return;
  head_received_ = true;
  stream_->response_began();
  // Held back until we know whether a body follows (end_stream on the head).
  pending_head_ = std::move(head);
}

void UpstreamConnection::on_body(std::string_view data) {
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

void UpstreamConnection::deliver_pending_head() {
  ResponseHead head = std::move(*pending_head_);
  pending_head_.reset();
  stream_->callbacks_.on_response_head(std::move(head), false);
}

bool UpstreamConnection::reusable() const {
  if (!pool_ || !bev_ || !stream_) return false;
  if (!stream_->request_done_ || stream_->wants_close_ || eof_seen_) return false;
  // HTTP/1.0 servers close or mis-handle keep-alive; only HTTP/1.1 is reused.
  if (version_prefix_ != "HTTP/1.1") return false;
  if (!parser_.keep_alive()) return false;
  // Bytes after the response were never asked for: the stream is out of sync.
  return evbuffer_get_length(bufferevent_get_input(bev_.get())) == 0;
}

std::optional<tls::TlsFailure> UpstreamConnection::tls_failure() {
  std::vector<unsigned long> errors;
  while (unsigned long e = bufferevent_get_openssl_error(bev_.get())) errors.push_back(e);
  SSL* ssl = bufferevent_openssl_get_ssl(bev_.get());
  const long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  const bool tls_seen =
      verify != X509_V_OK || std::any_of(errors.begin(), errors.end(),
                                         [](unsigned long e) { return ERR_GET_LIB(e) != 0; });
  // Nothing from OpenSSL: a refused or unresolved connect before the
  // handshake, or a plain EOF after it.
  if (!tls_seen && (connected_ || !socket_has_peer(bufferevent_getfd(bev_.get()))))
    return std::nullopt;
  return tls::classify_tls_failure(verify, errors);
}

ClientError UpstreamConnection::tls_error(tls::TlsFailure::Reason reason) {
  switch (reason) {
    case tls::TlsFailure::Reason::kVerify:
      return ClientError::kTlsVerify;
    case tls::TlsFailure::Reason::kProtocol:
      return ClientError::kTlsProtocol;
    case tls::TlsFailure::Reason::kHandshake:
      break;
  }
  return ClientError::kTlsHandshake;
}

// The endpoint's next connection offers this one's session (abbreviated
// handshake). TLS 1.3 tickets arrive after the handshake, so this runs once
// a response has come back rather than at connect time. A copy is kept:
// OpenSSL marks a connection's own session not resumable when that
// connection ends without close_notify, as upstreams dropping idle
// keep-alive connections do.
void UpstreamConnection::remember_tls_session() {
  if (!tls_ || !pool_ || !bev_) return;
  SSL* ssl = bufferevent_openssl_get_ssl(bev_.get());
  SSL_SESSION* session = ssl ? SSL_get0_session(ssl) : nullptr;
  if (!session || !SSL_SESSION_is_resumable(session)) return;
  if (session == last_session_) return;  // already copied
  last_session_ = session;
  if (SslSessionPtr copy{SSL_SESSION_dup(session)}) pool_->set_tls_session(std::move(copy));
}

void UpstreamConnection::finish_exchange() {
  remember_tls_session();
  UpstreamStream* stream = stream_;
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

void UpstreamConnection::fail_transport(std::string detail) {
  // A reused connection that dies before any response byte most likely lost
  // a race with the upstream closing it: retry idempotent requests once.
  UpstreamStream* stream = stream_;
  EndpointPool* pool = pool_;
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

void UpstreamConnection::fail(ClientError error, std::string detail) {
  UpstreamStream* stream = stream_;
  EndpointPool* pool = pool_;
  // A handshake that failed is a failed connect too (BEV_EVENT_CONNECTED
  // comes after the TLS handshake): the endpoint goes into back-off, and
  // as nothing reached it the stream may move to another endpoint.
  const bool connect_error =
      !connected_ && (error == ClientError::kConnectFailed ||
                      error == ClientError::kConnectTimeout || is_tls_error(error));
  detach_stream();
  close();
  if (connect_error && pool && pool->connect_failed(stream)) {
    if (is_tls_error(error)) {
      // Routed around, so no client sees it: say it here (rate-limited).
      log::limited(log::Level::kWarn, "upstream tls " + pool->host(), "upstream", [&] {
        return "TLS to upstream endpoint " + log::sanitize(pool->host()) + ":" +
               std::to_string(pool->port()) + " failed (" + log::sanitize(detail) +
               "); the request moved to another endpoint";
      });
    }
    return;
  }
  if (stream) stream->deliver_error(error, detail);
}

}  // namespace mag::http
