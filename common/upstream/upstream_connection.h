// One keep-alive HTTP/1.1 connection to an upstream endpoint: bufferevent,
// Http1Parser (kResponse) and timer. Owned by its EndpointPool (shared_ptr);
// every libevent entry point holds a shared_ptr to it, so user callbacks may
// destroy the stream (which closes the connection) or the pool without
// freeing the connection under our feet; after each user callback the state
// is checked again before anything is touched.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/c_handles.h"
#include "common/http/http1_codec.h"
#include "common/http/http_message.h"
#include "common/tls/tls_failure.h"
#include "common/upstream/upstream_pool.h"

namespace mag::http {

class EndpointPool;
class UpstreamStream;

class UpstreamConnection final : public Http1Parser::Callbacks,
                                 public std::enable_shared_from_this<UpstreamConnection> {
 public:
  enum class State { kConnecting, kBusy, kIdle, kClosed };

  UpstreamConnection(EndpointPool* pool, event_base* base, const CodecLimits& limits);
  ~UpstreamConnection() override = default;

  // Starts connecting; on immediate failure the error is reported later.
  void connect(std::chrono::milliseconds timeout);
  bool connected() const { return connected_; }
  // Puts `stream` on this connection and writes its head.
  void assign(UpstreamStream* stream);
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
  bool settle_parsed();
  void finish_exchange();
  void fail(ClientError error, std::string detail);
  void fail_transport(std::string detail);
  void arm(Timer kind, std::chrono::milliseconds ms);
  // Mid-body silence: the timer is armed once and, when it fires, re-armed
  // for what is left after the last input (last_input_), instead of being
  // re-armed on every piece (which would be an event_add per SSE event).
  void restart_idle_clock();
  void note_input();
  void detach_stream();
  bool reusable() const;
  // https:// upstreams.
  std::optional<tls::TlsFailure> tls_failure();
  static ClientError tls_error(tls::TlsFailure::Reason reason);
  void remember_tls_session();

  EndpointPool* pool_;
  event_base* base_;
  BufferEventPtr bev_;
  EventPtr timer_;
  EventPtr resume_;
  // Writes: queued bytes leave in one writev from flush_ later in the loop
  // turn; EV_WRITE is enabled only while connecting or while the socket is
  // full (libevent adds and removes it around every request otherwise: 2
  // epoll_ctl). bufferevents start with EV_WRITE enabled. TLS, once the
  // handshake is done: bytes collect in tls_staged_ and flush_ encrypts
  // them with one SSL_write (ssl_write_or_queue); libevent's OpenSSL
  // bufferevent would arm EV_WRITE and write a loop turn later.
  EventPtr flush_;
  std::string tls_staged_;
  bool write_armed_ = true;
  bool flush_queued_ = false;
  timeval idle_since_{};  // loop time at which the connection went idle
  Http1Parser parser_;
  State state_ = State::kConnecting;
  Timer timer_kind_ = Timer::kNone;
  UpstreamStream* stream_ = nullptr;
  bool connected_ = false;  // for TLS: the handshake is done
  bool tls_ = false;
  // The session remember_tls_session() last copied (compared, never used).
  const SSL_SESSION* last_session_ = nullptr;
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
  // run into the half-started connect (callbacks are not deferred, see connect()).
  bool in_connect_ = false;
  short deferred_what_ = 0;
  bool body_delivered_ = false;  // this read delivered body bytes
  timeval last_input_{};         // loop time of the last response bytes
};

}  // namespace mag::http
