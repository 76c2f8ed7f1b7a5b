// Lifetime rules (the reason this file looks the way it does):
// - A connection is only ever destroyed from its own deferred `work_` event
//   (or by the server's destructor), never from inside a callback that may
//   have a handler, the parser or libevent further up the stack.
// - A handler is destroyed either in the work event (exchange finished) or
//   right after on_reset() from an event/timer callback; handler callbacks
//   that end or reset the exchange only set state and schedule work.
// - Every ServerStream method is a no-op once the exchange is over or the
//   connection is closing, so a late call from a handler cannot write into
//   the next exchange or a dead socket.
#include "common/http/http1_connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <exception>
#include <optional>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"
#include "common/core/exception_barrier.h"
#include "common/core/log.h"
#include "common/http/body_deadline.h"
#include "common/http/content_length.h"
#include "common/http/direct_write.h"
#include "common/http/hop_by_hop.h"
#include "common/http/http1_codec.h"
#include "common/http/lingering_close.h"
#include "common/json/json_error_body.h"

namespace mag::http {

namespace {

constexpr std::string_view kLog = "http_server";
constexpr size_t kReadHighWatermark = 256 * 1024;  // input buffered while not consuming
constexpr size_t kFeedSlice = 16 * 1024;
constexpr std::chrono::milliseconds kFlushTimeout{30000};

std::string_view error_code(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 431:
      return "request_header_fields_too_large";
    case 501:
      return "not_implemented";
    case 505:
      return "http_version_not_supported";
    case 503:
      return "service_unavailable";
    default:
      return "internal_error";
  }
}

// RFC 9113 §3.4: what a client speaking h2c with prior knowledge sends first.
constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class Http1Connection final : public ServerConnection,
                              public ServerStream,
                              private Http1Parser::Callbacks {
 public:
  Http1Connection(event_base* base, BufferEventPtr bev, ConnectionInfo info,
                  const HandlerFactory& factory, const ServerOptions& options,
                  const bool& accepting, ConnectionDone done, HandOverToHttp2 to_http2)
      : base_(base),
        factory_(factory),
        options_(options),
        accepting_(accepting),
        done_(std::move(done)),
        to_http2_(std::move(to_http2)),
        bev_(std::move(bev)),
        info_(std::move(info)),
        parser_(Http1Parser::Mode::kRequest, *this, options.limits),
        idle_timeout_(options.stream_idle_timeout) {
    parser_.set_stop_after_head(
        true);  // pause_request_body() from on_request_head() holds the body
    timer_.reset(evtimer_new(base_, &Http1Connection::timer_cb, this));
    work_.reset(event_new(base_, -1, 0, &Http1Connection::work_cb, this));
    bufferevent_setcb(bev_.get(), &Http1Connection::read_cb, &Http1Connection::write_cb,
                      &Http1Connection::event_cb, this);
    bufferevent_setwatermark(bev_.get(), EV_READ, 0, kReadHighWatermark);
    bufferevent_setwatermark(bev_.get(), EV_WRITE, options_.write_low_watermark, 0);
    // Cleartext: the bytes of a loop turn go out in one writev from flush_,
    // and EV_WRITE is registered with epoll only while the socket is full
    // (libevent would add and remove it around every response: 2 epoll_ctl).
    // TLS keeps libevent's own write path.
    if (!info_.tls) flush_.reset(event_new(base_, -1, 0, &Http1Connection::flush_cb, this));
    direct_write_ = static_cast<bool>(flush_);
    if (direct_write_) {
      bufferevent_disable(bev_.get(), EV_WRITE);  // new bufferevents start with it enabled
      bufferevent_enable(bev_.get(), EV_READ);
    } else {
      bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    }
    arm(TimerKind::kHeader, options_.header_timeout);
  }

  ~Http1Connection() override {
    closing_ = true;
    retired_.reset();
    handler_.reset();  // late stream calls from its destructor are no-ops (closing_)
  }

  // HttpServer is going away: the exchange ends now.
  void shutdown_from_server() override {
    abort_exchange(true);
    closing_ = true;
  }

  // Idle (keep-alive or not yet a complete request head): close now. An
  // exchange in flight finishes; its response says "Connection: close"
  // because the server is no longer accepting.
  void drain() override {
    if (closing_ || close_after_flush_) return;
    if (!exchange_active_) begin_close();
  }

  // --- ServerStream --------------------------------------------------------

  void send_head(ResponseHead head, bool end_stream) override {
    if (!writable() || head_sent_) return;
    head_sent_ = true;
    bool handler_wants_close = head.headers.has_token("Connection", "close");
    for (std::string_view name : kServerFramingFields) head.headers.remove(name);
    int status = head.status;
    no_response_body_ = head_request_ || status < 200 || status == 204 || status == 304;
    if (status < 200 || status == 204) head.headers.remove("Content-Length");

    body_mode_ = BodyMode::kNone;
    if (const std::string_view* cl = head.headers.get("Content-Length")) {
      auto length = parse_content_length(*cl);
      if (length && head.headers.count("Content-Length") == 1) {
        body_mode_ = BodyMode::kLength;
        length_remaining_ = *length;
      } else {
        log::warn(kLog, "handler sent an invalid Content-Length; using chunked/close framing");
        head.headers.remove("Content-Length");
      }
    }
    if (body_mode_ == BodyMode::kNone && !no_response_body_) {
      if (end_stream) {
        head.headers.set("Content-Length", "0");
        body_mode_ = BodyMode::kLength;
      } else if (version_minor_ >= 1) {
        head.headers.set("Transfer-Encoding", "chunked");
        body_mode_ = BodyMode::kChunked;
      } else {
        body_mode_ = BodyMode::kClose;  // HTTP/1.0 without a length: delimited by close
      }
    }
    keep_alive_ = parser_.keep_alive() && request_complete_ && !handler_wants_close &&
                  body_mode_ != BodyMode::kClose && accepting_;
    if (!keep_alive_) {
      head.headers.set("Connection", "close");
    } else if (version_minor_ == 0) {
      head.headers.set("Connection", "keep-alive");
    }
    write(serialize_response_head(head));
    touch();
    // A response of unknown length (SSE) may hold the connection for hours:
    // the request head's raw bytes go back to the allocator now.
    if (!end_stream && (body_mode_ == BodyMode::kChunked || body_mode_ == BodyMode::kClose)) {
      parser_.release_head_buffer();
    }
    if (end_stream) end_response();
  }

  void send_body(std::string_view data, bool end_stream) override {
    if (!writable() || !head_sent_) return;
    if (!no_response_body_ && !data.empty()) {
      size_t n = clamp_to_length(data.size());
      if (body_mode_ == BodyMode::kChunked) write(chunk_prefix(n));
      write(data.substr(0, n));
      if (body_mode_ == BodyMode::kChunked) write(kChunkSuffix);
    }
    after_body_write(end_stream);
  }

  void send_body(evbuffer* data, bool end_stream) override {
    if (!writable() || !head_sent_) {
      evbuffer_drain(data, evbuffer_get_length(data));
      return;
    }
    size_t len = evbuffer_get_length(data);
    if (!no_response_body_ && len > 0) {
      size_t n = clamp_to_length(len);
      evbuffer* out = bufferevent_get_output(bev_.get());
      if (body_mode_ == BodyMode::kChunked) write(chunk_prefix(n));
      evbuffer_remove_buffer(data, out, n);
      queue_flush();
      if (body_mode_ == BodyMode::kChunked) write(kChunkSuffix);
    }
    evbuffer_drain(data, evbuffer_get_length(data));
    after_body_write(end_stream);
  }

  void reset() override {
    if (!exchange_active_ || closing_) return;
    exchange_active_ = false;
    retire_handler();
    begin_close();
  }

  // The flush queued for the end of the loop turn happens now (a relayed
  // upstream read). Same path as the queued one, so a full socket
  // still leaves the rest to libevent and the watermarks still apply.
  void flush() override {
    if (!flush_queued_) return;
    event_del(flush_.get());  // no second, empty flush later in the turn
    on_flush();
  }

  size_t pending_bytes() const override {
    return bev_ ? evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
  }
  bool above_high_watermark() const override {
    return pending_bytes() >= options_.write_high_watermark;
  }

  void pause_request_body(bool paused) override {
    if (!exchange_active_ || closing_ || body_paused_ == paused) return;
    body_paused_ = paused;
    if (!paused) {
      resume_input_ = true;
      if (!request_complete_) resume_body_deadline();
      schedule_work();  // the parser may be further up the stack right now
    } else {
      suspend_body_deadline();
    }
  }

  void set_idle_timeout(std::chrono::milliseconds timeout) override {
    idle_timeout_ = timeout;
    if (!exchange_active_ || closing_) return;
    if (timeout.count() > 0) {
      arm(TimerKind::kIdle, timeout);
    } else {
      disarm();
    }
  }

  const ConnectionInfo& connection() const override { return info_; }
  event_base* base() const override { return base_; }
  bool head_sent() const override { return head_sent_; }

 private:
  enum class TimerKind { kNone, kHeader, kKeepAlive, kIdle, kFlush, kLinger };
  enum class BodyMode { kNone, kLength, kChunked, kClose };

  // --- libevent callbacks (C entry points: nothing may escape) ----------------

  static void read_cb(bufferevent*, void* arg) noexcept {
    static_cast<Http1Connection*>(arg)->guard([&](Http1Connection& c) { c.on_read(); });
  }
  static void write_cb(bufferevent*, void* arg) noexcept {
    static_cast<Http1Connection*>(arg)->guard([&](Http1Connection& c) {
      c.write_drained();
      c.on_write();
    });
  }
  static void flush_cb(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Http1Connection*>(arg)->guard([&](Http1Connection& c) { c.on_flush(); });
  }
  static void event_cb(bufferevent*, short what, void* arg) noexcept {
    static_cast<Http1Connection*>(arg)->guard([&](Http1Connection& c) { c.on_event(what); });
  }
  static void timer_cb(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Http1Connection*>(arg)->guard([&](Http1Connection& c) { c.on_timer(); });
  }
  static void work_cb(evutil_socket_t, short, void* arg) noexcept {
    auto* c = static_cast<Http1Connection*>(arg);
    bool destroy = false;
    c->guard([&](Http1Connection& self) { destroy = self.on_work(); });
    if (destroy) {
      // `done` destroys the connection: it must not run from inside the object.
      ConnectionDone done = std::move(c->done_);
      done(c);  // last use of `c`
    }
  }

  template <typename F>
  void guard(F&& f) noexcept {
    exception_barrier([&] { f(*this); },
                      [&](std::string_view what) {
                        log::error(
                            kLog, "unexpected exception, closing connection: " + std::string(what));
                        begin_close();
                      });
  }

  void on_read() {
    if (closing_) return;
    evbuffer* in = bufferevent_get_input(bev_.get());
    if (linger_.active()) {
      if (const auto wait = linger_.discard(in)) {
        arm(TimerKind::kLinger, *wait);
      } else {
        begin_close();
      }
      return;
    }
    if (close_after_flush_) {  // the exchange is over: discard, bounded
      if (!linger_.discard_early(in)) begin_close();
      return;
    }
    if (!protocol_decided_ && !decide_protocol(in)) return;
    if (!exchange_active_ && timer_kind_ == TimerKind::kKeepAlive && evbuffer_get_length(in) > 0) {
      arm(TimerKind::kHeader, options_.header_timeout);  // a new request has started
    }
    if (exchange_active_) touch();
    process_input();
  }

  void on_write() {
    if (closing_) return;
    if (exchange_active_) touch();
    if (close_after_flush_ && pending_bytes() == 0) {
      on_flushed();
      return;
    }
    if (want_drained_ && handler_ && exchange_active_ && !above_high_watermark()) {
      want_drained_ = false;
      call_handler([](ServerStreamHandler& h) { h.on_drained(); });
    }
  }

  void on_event(short what) {
    if (closing_) return;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
      // Client went away (or half-closed: treated as an abort, like nginx's
      // default, so upstream work is cancelled promptly).
      abort_exchange(true);
      begin_close();
    }
  }

  void on_timer() {
    if (closing_) return;
    TimerKind kind = timer_kind_;
    timer_kind_ = TimerKind::kNone;
    switch (kind) {
      case TimerKind::kHeader:
        if (parser_has_started_request()) {
          send_error(408, "request head not received in time");
        } else {
          begin_close();
        }
        break;
      case TimerKind::kIdle: {
        bool answer = !head_sent_ && !request_complete_;
        abort_exchange(true, answer ? 408 : 0);
        if (answer) {
          send_error(408, "request not received in time");
        } else {
          begin_close();
        }
        break;
      }
      case TimerKind::kKeepAlive:
      case TimerKind::kFlush:
      case TimerKind::kLinger:
      case TimerKind::kNone:
        begin_close();
        break;
    }
  }

  // Returns true when the connection must be destroyed now.
  bool on_work() {
    retired_.reset();
    if (closing_) return true;
    if (exchange_active_ && response_complete_ && (request_complete_ || !keep_alive_)) {
      finish_exchange();
    }
    if (closing_) return true;
    if (flush_check_) {
      flush_check_ = false;
      if (close_after_flush_ && pending_bytes() == 0) on_flushed();
    }
    if (resume_input_) {
      resume_input_ = false;
      process_input();
    }
    return closing_;
  }

  // --- protocol selection ---------------------------------------------------------

  // False when the connection is not (or not yet) HTTP/1.1: it waits for more
  // bytes, or has been handed over to HTTP/2 and must not be touched again.
  bool decide_protocol(evbuffer* in) {
    if (!options_.enable_http2) {
      protocol_decided_ = true;
      return true;
    }
    bool http2 = false;
    if (info_.tls) {
      const unsigned char* alpn = nullptr;
      unsigned alpn_len = 0;
      if (SSL* ssl = bufferevent_openssl_get_ssl(bev_.get())) {
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
      }
      http2 = alpn_len == 2 && alpn[0] == 'h' && alpn[1] == '2';
    } else {
      char prefix[kHttp2Preface.size()];
      const ev_ssize_t n = evbuffer_copyout(in, prefix, sizeof prefix);
      if (n <= 0) return false;
      const auto got = std::string_view(prefix, static_cast<size_t>(n));
      if (kHttp2Preface.substr(0, got.size()) == got) {
        if (got.size() < kHttp2Preface.size()) return false;  // could still be h2c
        http2 = true;
      }
    }
    protocol_decided_ = true;
    if (!http2) return true;
    // The bytes already read stay in the bufferevent for the HTTP/2 session.
    disarm();
    closing_ = true;
    bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
    schedule_work();  // removes this object
    to_http2_(std::move(bev_), info_);
    return false;
  }

  // --- request side ------------------------------------------------------------

  bool parser_has_started_request() const { return bytes_this_request_; }

  void process_input() {
    evbuffer* in = bufferevent_get_input(bev_.get());
    while (!closing_ && !close_after_flush_) {
      if (exchange_active_ && (request_complete_ || body_paused_)) break;
      if (!exchange_active_ && parser_.message_complete()) break;
      size_t len = evbuffer_get_length(in);
      if (len == 0) break;
      bytes_this_request_ = true;
      evbuffer_iovec vec{};
      if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1) break;
      // Small slices while a handler consumes the body, so pause_request_body()
      // from inside on_request_body() takes effect within kFeedSlice bytes.
      size_t slice = exchange_active_ ? std::min(vec.iov_len, kFeedSlice) : vec.iov_len;
      size_t used = parser_.feed(static_cast<const char*>(vec.iov_base), slice);
      if (closing_) return;  // a handler reset the stream from a callback
      evbuffer_drain(in, used);
      if (parser_.failed()) {
        on_protocol_error();
        return;
      }
      if (used == 0) break;
    }
  }

  void on_request_head(RequestHead&& head) override {
    start_exchange(head);
    bool end_stream = !parser_.expects_body();
    const std::string_view* expect = head.headers.get("Expect");
    bool wants_continue =
        !end_stream && version_minor_ >= 1 && expect && iequals(*expect, "100-continue");
    try {
      handler_ = factory_(*this);
    } catch (const std::exception& e) {
      log::error(kLog, std::string("handler factory threw: ") + e.what());
    }
    if (!handler_) {
      send_error(503, "no handler for this request");
      return;
    }
    call_handler([&](ServerStreamHandler& h) { h.on_request_head(std::move(head), end_stream); });
    if (wants_continue && writable() && !head_sent_) write("HTTP/1.1 100 Continue\r\n\r\n");
  }

  void on_body(std::string_view data) override {
    if (!exchange_active_ || response_complete_ || !handler_) return;  // answered already: discard
    call_handler([&](ServerStreamHandler& h) { h.on_request_body(data, false); });
  }

  void on_message_complete() override {
    if (!exchange_active_) return;
    request_complete_ = true;
    stop_body_deadline();
    if (request_has_body_ && handler_ && !response_complete_) {
      call_handler([](ServerStreamHandler& h) { h.on_request_body({}, true); });
    }
    if (response_complete_) schedule_work();
  }

  void start_exchange(const RequestHead& head) {
    exchange_active_ = true;
    request_complete_ = false;
    head_sent_ = false;
    response_complete_ = false;
    body_paused_ = false;
    want_drained_ = false;
    keep_alive_ = true;
    version_minor_ = head.version_minor;
    head_request_ = head.method == "HEAD";
    request_has_body_ = parser_.expects_body();
    // A request without body is complete with its head: a handler answering
    // from on_request_head() must still get keep-alive.
    request_complete_ = !request_has_body_;
    if (request_has_body_) start_body_deadline();
    idle_timeout_ = options_.stream_idle_timeout;
    if (idle_timeout_.count() > 0) {
      arm(TimerKind::kIdle, idle_timeout_);
    } else {
      disarm();
    }
  }

  // Response ended and the request was read (or will be discarded): next one.
  void finish_exchange() {
    exchange_active_ = false;
    stop_body_deadline();
    retire_handler();
    retired_.reset();  // safe: we run from the work event, no handler frame is live
    if (!keep_alive_ || closing_ || !accepting_) {
      close_after_flush();
      return;
    }
    parser_.next_message();
    bytes_this_request_ = false;
    evbuffer* in = bufferevent_get_input(bev_.get());
    if (evbuffer_get_length(in) > 0) {
      arm(TimerKind::kHeader, options_.header_timeout);
    } else {
      arm(TimerKind::kKeepAlive, options_.keepalive_timeout);
    }
    process_input();  // pipelined requests waiting in the buffer
  }

  void on_protocol_error() {
    int status = parser_.error_status();
    std::string message = parser_.error_message();
    log::debug(kLog, "protocol error " + std::to_string(status) + ": " + log::sanitize(message));
    if (exchange_active_ && head_sent_) {
      abort_exchange(true);
      begin_close();
      return;
    }
    abort_exchange(true, status);
    send_error(status, message);
  }

  // --- response side -------------------------------------------------------------

  bool writable() const { return exchange_active_ && !closing_ && !response_complete_ && bev_; }

  size_t clamp_to_length(size_t n) {
    if (body_mode_ != BodyMode::kLength) return n;
    if (n > length_remaining_) {
      log::warn(kLog, "handler wrote more than its Content-Length; truncating");
      n = static_cast<size_t>(length_remaining_);
      keep_alive_ = false;
    }
    length_remaining_ -= n;
    return n;
  }

  void after_body_write(bool end_stream) {
    touch();
    if (above_high_watermark()) want_drained_ = true;
    if (end_stream) end_response();
  }

  void end_response() {
    if (!no_response_body_) {
      if (body_mode_ == BodyMode::kChunked) write(kLastChunk);
      if (body_mode_ == BodyMode::kLength && length_remaining_ > 0) {
        // Shorter than announced: the client must see a truncated message.
        log::warn(kLog, "handler ended the response before its Content-Length");
        keep_alive_ = false;
      }
    }
    response_complete_ = true;
    schedule_work();
  }

  void write(std::string_view bytes) {
    if (!bev_ || bytes.empty()) return;
    bufferevent_write(bev_.get(), bytes.data(), bytes.size());
    queue_flush();
  }

  // --- direct writes (cleartext) ---------------------------------------------------

  // Bytes were queued: write them once the current callbacks are done (later
  // in this loop turn), so a head and its body leave in one writev.
  void queue_flush() {
    if (!direct_write_ || write_armed_ || flush_queued_) return;
    flush_queued_ = true;
    event_active(flush_.get(), EV_TIMEOUT, 0);
  }

  void on_flush() {
    flush_queued_ = false;
    if (closing_ || !bev_ || write_armed_) return;
    evbuffer* out = bufferevent_get_output(bev_.get());
    if (evbuffer_get_length(out) == 0) return;
    if (!write_queued_or_arm(bev_.get())) {
      write_armed_ = true;  // libevent writes the rest; write_drained() disarms
      return;
    }
    // All written: what write_cb does when the buffer drains.
    if (close_after_flush_ || want_drained_) on_write();
  }

  // libevent's write_cb: back to direct writes once its buffer is empty.
  void write_drained() {
    if (!write_armed_ || !bev_ || pending_bytes() > 0) return;
    write_armed_ = false;
    bufferevent_disable(bev_.get(), EV_WRITE);
  }

  // Answers on behalf of the server and closes the connection afterwards.
  void send_error(int status, std::string_view description) {
    if (closing_ || !bev_) return;
    exchange_active_ = false;
    retire_handler();
    std::string body = json::json_error_body(error_code(status), description);
    ResponseHead head;
    head.status = status;
    head.headers.add("Content-Type", "application/json");
    head.headers.add("Cache-Control", "no-store");
    head.headers.add("Content-Length", std::to_string(body.size()));
    head.headers.add("Connection", "close");
    write(serialize_response_head(head));
    write(body);
    close_after_flush();
  }

  void close_after_flush() {
    if (close_after_flush_ || closing_) return;
    close_after_flush_ = true;
    bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);  // write_cb when empty
    arm(TimerKind::kFlush,
        options_.stream_idle_timeout.count() > 0 ? options_.stream_idle_timeout : kFlushTimeout);
    flush_check_ = true;  // if nothing is pending, no write_cb will come
    schedule_work();
  }

  // Everything written: send FIN, then read and discard until the client
  // closes (bounded), so unread request bytes do not turn our close into an
  // RST that destroys the response in flight.
  void on_flushed() {
    if (linger_.active() || closing_) return;
    const auto wait =
        linger_.start(bufferevent_getfd(bev_.get()), bufferevent_get_input(bev_.get()));
    bufferevent_enable(bev_.get(), EV_READ);
    arm(TimerKind::kLinger, wait);
  }

  // --- exchange teardown ---------------------------------------------------------

  template <typename F>
  void call_handler(F&& f) {
    if (!handler_) return;
    exception_barrier([&] { f(*handler_); },
                      [&](std::string_view what) {
                        log::error(kLog, "handler threw: " + std::string(what));
                        handler_failed();
                      });
  }

  void handler_failed() {
    if (!exchange_active_ || closing_) return;
    if (!head_sent_) {
      send_error(500, "internal error");
    } else {
      exchange_active_ = false;
      retire_handler();
      begin_close();
    }
  }

  // Ends the exchange from outside the handler (disconnect, timeout, error).
  // `refused_status`: the server answers the client itself with that status.
  void abort_exchange(bool notify, int refused_status = 0) {
    if (!exchange_active_) return;
    exchange_active_ = false;
    stop_body_deadline();
    if (handler_ && notify && !response_complete_) {
      notify_exchange_ended(*handler_, refused_status, kLog);
    }
    retire_handler();
  }

  // --- request body deadline (ServerOptions::request_body_timeout) ---------------

  void start_body_deadline() { body_deadline_.start(options_.request_body_timeout); }
  void resume_body_deadline() { body_deadline_.resume(); }
  // While the server holds the body back, the client is not to blame.
  void suspend_body_deadline() { body_deadline_.suspend(); }
  void stop_body_deadline() { body_deadline_.stop(); }

  static void body_timer_cb(evutil_socket_t, short, void* arg) noexcept {
    static_cast<Http1Connection*>(arg)->guard([&](Http1Connection& c) { c.on_body_timeout(); });
  }

  void on_body_timeout() {
    body_deadline_.expired();
    if (closing_ || !exchange_active_ || request_complete_) return;
    log::info(kLog, "request body from " + info_.peer_address + " not received within " +
                        std::to_string(options_.request_body_timeout.count()) + " ms");
    if (!head_sent_) {
      abort_exchange(true, 408);
      send_error(408, "request body not received in time");
    } else {
      abort_exchange(true);
      begin_close();
    }
  }

  // Handler destruction is deferred to the work event: it may be on the stack.
  void retire_handler() {
    if (!handler_) return;
    retired_ = std::move(handler_);
    schedule_work();
  }

  void begin_close() {
    if (closing_) return;
    closing_ = true;
    disarm();
    // The socket is freed with the object in the work event, not here: the
    // parser may still be walking bytes of its input buffer further up the stack.
    if (bev_) bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    schedule_work();
  }

  void schedule_work() {
    if (work_) event_active(work_.get(), EV_TIMEOUT, 0);
  }

  // --- timers ------------------------------------------------------------------------

  void arm(TimerKind kind, std::chrono::milliseconds timeout) {
    timer_kind_ = kind;
    if (timeout.count() <= 0) {
      evtimer_del(timer_.get());
      return;
    }
    timeval tv = to_timeval(timeout);
    evtimer_add(timer_.get(), &tv);
  }

  void disarm() {
    timer_kind_ = TimerKind::kNone;
    evtimer_del(timer_.get());
  }

  // Activity on an open exchange pushes the idle deadline out.
  void touch() {
    if (timer_kind_ == TimerKind::kIdle && idle_timeout_.count() > 0 && !close_after_flush_) {
      arm(TimerKind::kIdle, idle_timeout_);
    }
  }

  event_base* base_;
  const HandlerFactory& factory_;
  const ServerOptions& options_;
  const bool& accepting_;  // false once the server drains or stops
  ConnectionDone done_;
  HandOverToHttp2 to_http2_;
  BufferEventPtr bev_;
  ConnectionInfo info_;
  Http1Parser parser_;
  EventPtr timer_;
  EventPtr work_;
  EventPtr flush_;             // cleartext only: see queue_flush()
  bool direct_write_ = false;  // flush_ writes; EV_WRITE only while the socket is full
  bool write_armed_ = false;   // EV_WRITE enabled: libevent writes what is queued
  bool flush_queued_ = false;
  BodyDeadline body_deadline_{base_, &Http1Connection::body_timer_cb, this};
  TimerKind timer_kind_ = TimerKind::kNone;
  std::chrono::milliseconds idle_timeout_;

  bool exchange_active_ = false;
  bool request_complete_ = false;
  bool request_has_body_ = false;
  bool head_sent_ = false;
  bool response_complete_ = false;
  bool head_request_ = false;
  bool no_response_body_ = false;
  BodyMode body_mode_ = BodyMode::kNone;
  uint64_t length_remaining_ = 0;
  bool body_paused_ = false;
  bool resume_input_ = false;
  bool want_drained_ = false;
  bool keep_alive_ = true;
  int version_minor_ = 1;
  bool bytes_this_request_ = false;
  bool protocol_decided_ = false;

  bool closing_ = false;
  bool close_after_flush_ = false;
  LingeringClose linger_;
  bool flush_check_ = false;

  std::unique_ptr<ServerStreamHandler> retired_;
  std::unique_ptr<ServerStreamHandler> handler_;
};

}  // namespace

std::unique_ptr<ServerConnection> make_http1_connection(event_base* base, BufferEventPtr bev,
                                                        ConnectionInfo info,
                                                        const HandlerFactory& factory,
                                                        const ServerOptions& options,
                                                        const bool& accepting, ConnectionDone done,
                                                        HandOverToHttp2 to_http2) {
  return std::make_unique<Http1Connection>(base, std::move(bev), std::move(info), factory, options,
                                           accepting, std::move(done), std::move(to_http2));
}

}  // namespace mag::http
