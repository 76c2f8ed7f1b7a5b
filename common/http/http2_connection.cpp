// HTTP/2 server connection on nghttp2.
//
// Lifetime rules, as in http_server.cpp:
// - nghttp2 is driven only from libevent callbacks (read, write, timers,
//   the deferred work event), never from inside a handler call, so a
//   handler may call any ServerStream method at any time: those only submit
//   frames or queue bytes and schedule the work event that serialises them.
// - Streams and their handlers are destroyed in the work event (retired_),
//   never inside an nghttp2 callback; the connection itself is destroyed by
//   its owner, called last from the work event.
// - Every ServerStream method is a no-op once the stream is closed.
//
// Limits the library does not enforce (H2-* in docs/security.md): header-list
// size (counted in on_header), frames without progress (a budget), outbound
// queue growth, and bytes buffered towards the socket.
#include "common/http/http2_connection.h"
#include "common/core/exception_barrier.h"

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <map>
#include <vector>

#include "common/core/event_loop.h"
#include "common/core/log.h"
#include "common/http/body_deadline.h"
#include "common/http/hop_by_hop.h"
#include "common/http/lingering_close.h"
#include "common/json/json_error_body.h"

namespace mag::http {

namespace {

constexpr std::string_view kLog = "http2";
constexpr int32_t kConnectionWindow = 1 << 20;
constexpr size_t kClientPrefaceLength = 24;  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
constexpr size_t kFrameHeaderLength = 9;
constexpr size_t kMaxFrameLength = 16384;  // our SETTINGS_MAX_FRAME_SIZE (the default)

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 9113 §8.2.2: these never appear in an HTTP/2 message.
bool is_connection_specific(std::string_view lower_name) {
  return std::ranges::find(kHttp2ConnectionFields, lower_name) != kHttp2ConnectionFields.end();
}

using SessionPtr = std::unique_ptr<nghttp2_session, CDeleter<nghttp2_session_del>>;
using OptionPtr = std::unique_ptr<nghttp2_option, CDeleter<nghttp2_option_del>>;
using CallbacksPtr =
    std::unique_ptr<nghttp2_session_callbacks, CDeleter<nghttp2_session_callbacks_del>>;

}  // namespace

struct Http2Connection::Impl {
  Impl(Http2Connection& owner, event_base* b, BufferEventPtr e, ConnectionInfo i,
       const HandlerFactory& f, const ServerOptions& o, const bool& acc, ConnectionDone d)
      : self(owner),
        base(b),
        bev(std::move(e)),
        info(std::move(i)),
        factory(f),
        options(o),
        accepting(acc),
        done(std::move(d)),
        frame_budget(static_cast<int64_t>(o.http2.max_frames_without_progress)) {
    info.http2 = true;
  }

  Http2Connection& self;
  event_base* base;
  BufferEventPtr bev;
  ConnectionInfo info;
  const HandlerFactory& factory;
  const ServerOptions& options;
  const bool& accepting;
  ConnectionDone done;

  SessionPtr session;
  std::map<int32_t, std::unique_ptr<Stream>> streams;
  std::vector<std::unique_ptr<Stream>> retired;
  std::vector<int32_t> drained;  // streams whose handler awaits on_drained()
  std::vector<int32_t> resumed;  // streams whose request body was un-paused
  EventPtr work;
  EventPtr idle_timer;
  EventPtr linger_timer;
  LingeringClose linger;
  int64_t frame_budget;
  bool closing = false;
  bool finishing = false;  // close once the output is flushed
  bool draining = false;
  bool reading_paused = false;
  // Input pacing (see on_read): preface bytes still to hand over as they
  // come, and bytes of the current frame already known to be complete.
  size_t preface_left = kClientPrefaceLength;
  size_t feed_left = 0;

  bool init();
  void on_read();
  void on_write();
  void on_event(short what);
  void on_work();
  void flush();
  void begin_close(std::string_view why);
  void begin_linger();
  void arm_linger_timer(std::chrono::milliseconds wait);
  void schedule_work() {
    if (work) event_active(work.get(), EV_TIMEOUT, 0);
  }
  void update_idle_timer();
  void spend_budget(int64_t n);
  void earn_budget(int64_t n) {
    frame_budget = std::min<int64_t>(frame_budget + n, options.http2.max_frames_without_progress);
  }
  Stream* find(int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : it->second.get();
  }
  void retire(int32_t id);

  // nghttp2 callbacks
  int on_begin_headers(const nghttp2_frame* frame);
  int on_header(const nghttp2_frame* frame, std::string_view name, std::string_view value);
  int on_frame_recv(const nghttp2_frame* frame);
  int on_data_chunk(int32_t id, const uint8_t* data, size_t len);
  int on_stream_close(int32_t id, uint32_t error_code);
  int on_frame_send(const nghttp2_frame* frame);
};

// ---------------------------------------------------------------------------

class Http2Connection::Stream final : public ServerStream {
 public:
  Stream(Impl& conn, int32_t id)
      : conn_(conn),
        id_(id),
        out_(evbuffer_new()),
        body_deadline_(conn.base, &Stream::body_timer_cb, this) {
    timer_.reset(evtimer_new(conn.base, &Stream::timer_cb, this));
    idle_timeout_ = conn.options.stream_idle_timeout;
    touch();
  }
  ~Stream() override {
    closed_ = true;
    handler_.reset();  // late calls from its destructor are no-ops
  }

  // --- ServerStream ----------------------------------------------------------

  void send_head(ResponseHead head, bool end_stream) override {
    if (!open() || head_sent_) return;
    head_sent_ = true;
    const int status = head.status;
    if (status < 200) {  // no 1xx/101 over h2 from a proxied HTTP/1.1 head
      head.status = 502;
    }
    const bool no_body = head_request_ || status == 204 || status == 304;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.emplace_back(":status", std::to_string(head.status));
    for (const auto& h : head.headers) {
      std::string name = lowercase(h.name);
      if (is_connection_specific(name) || name.empty() || name[0] == ':') continue;
      if (name == "content-length" && (status == 204 || status < 200)) continue;
      fields.emplace_back(std::move(name), h.value);
    }
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                     n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    body_ended_ = end_stream || no_body;
    discard_body_ = no_body;
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = &Stream::read_cb;
    int rv = nghttp2_submit_response(conn_.session.get(), id_, nva.data(), nva.size(),
                                     body_ended_ ? nullptr : &provider);
    if (rv != 0) {
      log::warn(kLog, std::string("submit_response failed: ") + nghttp2_strerror(rv));
      fail_stream(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (body_ended_) response_submitted_end_ = true;
    touch();
    conn_.schedule_work();
  }

  void send_body(std::string_view data, bool end_stream) override {
    if (!open() || !head_sent_ || response_submitted_end_ || body_ended_) return;
    if (!discard_body_) evbuffer_add(out_.get(), data.data(), data.size());
    after_body(end_stream);
  }

  void send_body(evbuffer* data, bool end_stream) override {
    if (!open() || !head_sent_ || response_submitted_end_ || body_ended_ || discard_body_) {
      evbuffer_drain(data, evbuffer_get_length(data));
      if (open() && head_sent_ && !body_ended_ && discard_body_) after_body(end_stream);
      return;
    }
    evbuffer_add_buffer(out_.get(), data);
    after_body(end_stream);
  }

  void reset() override {
    if (!open()) return;
    handler_gone_ = true;  // no on_reset() for its own reset
    fail_stream(NGHTTP2_INTERNAL_ERROR);
  }

  size_t pending_bytes() const override { return out_ ? evbuffer_get_length(out_.get()) : 0; }
  bool above_high_watermark() const override {
    return pending_bytes() >= conn_.options.write_high_watermark;
  }

  void pause_request_body(bool paused) override {
    if (!open() || body_paused_ == paused) return;
    body_paused_ = paused;
    if (!paused) {
      if (!request_ended_) resume_body_deadline();
      conn_.resumed.push_back(id_);
      conn_.schedule_work();
    } else {
      suspend_body_deadline();
    }
  }

  void set_idle_timeout(std::chrono::milliseconds timeout) override {
    idle_timeout_ = timeout;
    if (!open()) return;
    if (timeout.count() > 0) {
      touch();
    } else {
      evtimer_del(timer_.get());
    }
  }

  const ConnectionInfo& connection() const override { return conn_.info; }
  event_base* base() const override { return conn_.base; }
  bool head_sent() const override { return head_sent_; }

  // --- driven by the connection -------------------------------------------------

  // False when the header list exceeds the limits (the stream is reset).
  bool add_header(std::string_view name, std::string_view value) {
    header_bytes_ += name.size() + value.size() + 32;
    if (header_bytes_ > conn_.options.http2.max_header_list_bytes) return false;
    if (!name.empty() && name[0] == ':') {
      if (name == ":method")
        head_.method = value;
      else if (name == ":path")
        head_.target = value;
      else if (name == ":authority")
        authority_ = value;
      return true;  // :scheme and :protocol are not forwarded
    }
    if (++header_count_ > conn_.options.limits.max_header_count) return false;
    if (name == "cookie") {
      // RFC 9113 §8.2.3: crumbs are joined for an HTTP/1.1 upstream.
      cookie_ += cookie_.empty() ? std::string(value) : "; " + std::string(value);
      return true;
    }
    head_.headers.add(std::string(name), std::string(value));
    return true;
  }

  void on_headers_complete(bool end_stream) {
    request_ended_ = end_stream;
    if (!end_stream) start_body_deadline();
    if (const std::string_view* host = head_.headers.get("host");
        host && !authority_.empty() && !iequals(*host, authority_)) {
      // RFC 9113 §8.3.1: a Host naming another entity than :authority is
      // malformed; which one the routing or Host checks would use is moot.
      fail_stream(NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    if (!authority_.empty() && !head_.headers.has("host")) head_.headers.add("host", authority_);
    if (!cookie_.empty()) head_.headers.add("cookie", cookie_);
    const size_t q = head_.target.find('?');
    head_.path = head_.target.substr(0, q);
    head_.query = q == std::string::npos ? std::string() : head_.target.substr(q + 1);
    head_.version_minor = 1;
    head_request_ = head_.method == "HEAD";
    if (head_.method == "CONNECT" || head_.target.empty() || head_.target[0] != '/') {
      send_error(501, "not_implemented", "CONNECT and non origin-form targets are not supported");
      return;
    }
    if (!conn_.accepting && conn_.draining) {
      send_error(503, "service_unavailable", "shutting down");
      return;
    }
    try {
      handler_ = conn_.factory(*this);
    } catch (const std::exception& e) {
      log::error(kLog, std::string("handler factory threw: ") + e.what());
    }
    if (!handler_) {
      send_error(503, "service_unavailable", "no handler for this request");
      return;
    }
    end_delivered_ = end_stream;
    call_handler([&](ServerStreamHandler& h) { h.on_request_head(std::move(head_), end_stream); });
  }

  void on_data(const uint8_t* data, size_t len) {
    body_bytes_ += len;
    touch();
    const size_t max_body = conn_.options.limits.max_body_bytes;
    if (max_body > 0 && body_bytes_ > max_body) {
      consume(len);
      if (!head_sent_) {
        abort_handler(413);
        send_error(413, "payload_too_large", "request body too large");
      } else {
        abort_handler();
        fail_stream(NGHTTP2_CANCEL);
      }
      return;
    }
    if (!handler_ || handler_gone_ || response_submitted_end_) {
      consume(len);  // answered already: discard
      return;
    }
    if (body_paused_ || !stash_.empty()) {
      stash_.append(reinterpret_cast<const char*>(data), len);  // bounded by the stream window
      return;
    }
    consume(len);
    call_handler([&](ServerStreamHandler& h) {
      h.on_request_body(std::string_view(reinterpret_cast<const char*>(data), len), false);
    });
  }

  void on_request_end() {
    if (request_ended_) return;
    request_ended_ = true;
    stop_body_deadline();
    if (body_paused_ || !stash_.empty()) return;  // delivered with the stash
    deliver_end();
  }

  // The end of the request body, exactly once (a request that ended with
  // its head, or a pause/resume after the end, must not see it again).
  void deliver_end() {
    if (end_delivered_ || !handler_ || handler_gone_) return;
    end_delivered_ = true;
    call_handler([](ServerStreamHandler& h) { h.on_request_body({}, true); });
  }

  // Un-paused from the work event: hands over what arrived while paused.
  void deliver_stash() {
    if (!open() || body_paused_ || !handler_ || handler_gone_) return;
    if (!stash_.empty()) {
      std::string data = std::move(stash_);
      stash_.clear();
      consume(data.size());
      call_handler([&](ServerStreamHandler& h) { h.on_request_body(data, false); });
    }
    if (request_ended_ && open() && !body_paused_) deliver_end();
  }

  void notify_drained() {
    if (!open() || !want_drained_ || above_high_watermark()) return;
    want_drained_ = false;
    call_handler([](ServerStreamHandler& h) { h.on_drained(); });
  }

  // nghttp2 closed the stream (both ends done, or reset, or connection gone).
  void on_closed() {
    if (closed_) return;
    closed_ = true;
    evtimer_del(timer_.get());
    stop_body_deadline();
    if (handler_ && !handler_gone_ && !response_complete_) {
      handler_gone_ = true;
      try {
        handler_->on_reset();
      } catch (...) {
        log::error(kLog, "handler threw from on_reset");
      }
    }
  }

  void on_response_end_sent() {
    response_complete_ = true;
    // RFC 9113 §8.1 allows RST_STREAM(NO_ERROR) after a complete response to
    // stop the rest of the request body. Only done for a body that timed out:
    // Debian's curl 7.88 reports an ordinary early answer (a 503 while it is
    // still uploading) followed by that reset as a failed transfer, so other
    // early answers let the client finish (bounded by request_body_timeout).
    if (reset_when_answered_ && !request_ended_ && !closed_ && conn_.session) {
      nghttp2_submit_rst_stream(conn_.session.get(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_NO_ERROR);
      conn_.schedule_work();
    }
  }

  std::unique_ptr<ServerStreamHandler> take_handler() { return std::move(handler_); }

 private:
  bool open() const { return !closed_ && !conn_.closing && conn_.session; }

  void after_body(bool end_stream) {
    if (end_stream) body_ended_ = true;
    if (above_high_watermark()) want_drained_ = true;
    if (deferred_) {
      deferred_ = false;
      nghttp2_session_resume_data(conn_.session.get(), id_);
    }
    touch();
    conn_.schedule_work();
  }

  ssize_t read_data(uint8_t* buf, size_t length, uint32_t* flags) {
    const int n = evbuffer_remove(out_.get(), buf, length);
    if (n < 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (evbuffer_get_length(out_.get()) == 0 && body_ended_) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      response_submitted_end_ = true;
    } else if (n == 0) {
      deferred_ = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (want_drained_ && pending_bytes() <= conn_.options.write_low_watermark) {
      conn_.drained.push_back(id_);
      conn_.schedule_work();
    }
    touch();
    return n;
  }

  static ssize_t read_cb(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                         nghttp2_data_source* source, void*) noexcept {
    try {
      return static_cast<Stream*>(source->ptr)->read_data(buf, length, flags);
    } catch (...) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }

  static void timer_cb(evutil_socket_t, short, void* arg) noexcept {
    auto* s = static_cast<Stream*>(arg);
    try {
      s->on_idle_timeout();
    } catch (...) {
      log::error(kLog, "idle timeout handling failed");
    }
  }

  void on_idle_timeout() {
    if (!open()) return;
    log::debug(kLog, "stream idle timeout");
    abort_handler(head_sent_ ? 0 : 408);
    if (!head_sent_) {
      send_error(408, "request_timeout", "stream idle for too long");
    } else {
      fail_stream(NGHTTP2_CANCEL);
    }
  }

  void touch() {
    if (closed_ || idle_timeout_.count() <= 0 || !timer_) return;
    timeval tv = to_timeval(idle_timeout_);
    evtimer_add(timer_.get(), &tv);
  }

  void consume(size_t len) {
    if (len == 0 || !conn_.session) return;
    if (nghttp2_session_consume(conn_.session.get(), id_, len) != 0) {
      nghttp2_session_consume_connection(conn_.session.get(), len);
    }
  }

  // The handler learns the exchange is over (timeout, limits);
  // `refused_status`: the server answers the client itself with it.
  void abort_handler(int refused_status = 0) {
    if (handler_ && !handler_gone_ && !response_complete_) {
      handler_gone_ = true;
      notify_exchange_ended(*handler_, refused_status, kLog);
    }
  }

  // --- request body deadline (ServerOptions::request_body_timeout) ------------

  void start_body_deadline() { body_deadline_.start(conn_.options.request_body_timeout); }
  void resume_body_deadline() {
    if (!closed_) body_deadline_.resume();
  }
  void suspend_body_deadline() { body_deadline_.suspend(); }
  void stop_body_deadline() { body_deadline_.stop(); }
  static void body_timer_cb(evutil_socket_t, short, void* arg) noexcept {
    auto* s = static_cast<Stream*>(arg);
    try {
      s->on_body_timeout();
    } catch (...) {
      log::error(kLog, "body timeout handling failed");
    }
  }
  void on_body_timeout() {
    body_deadline_.expired();
    if (!open() || request_ended_) return;
    log::info(kLog, "request body from " + conn_.info.peer_address + " not received within " +
                        std::to_string(conn_.options.request_body_timeout.count()) + " ms");
    if (!head_sent_) {
      abort_handler(408);
      reset_when_answered_ = true;
      send_error(408, "request_timeout", "request body not received in time");
    } else {
      abort_handler();
      fail_stream(NGHTTP2_CANCEL);
    }
  }

  // A response on behalf of the server; the handler (if any) is already gone.
  void send_error(int status, std::string_view code, std::string_view description) {
    if (!open() || head_sent_) return;
    handler_gone_ = true;
    ResponseHead head;
    head.status = status;
    head.headers.add("content-type", "application/json");
    head.headers.add("cache-control", "no-store");
    std::string body = json::json_error_body(code, description);
    head.headers.add("content-length", std::to_string(body.size()));
    const bool was_head = head_request_;
    send_head(std::move(head), false);
    if (!was_head) {
      evbuffer_add(out_.get(), body.data(), body.size());
    }
    after_body(true);
  }

  void fail_stream(uint32_t error_code) {
    if (closed_ || !conn_.session) return;
    handler_gone_ = true;
    nghttp2_submit_rst_stream(conn_.session.get(), NGHTTP2_FLAG_NONE, id_, error_code);
    conn_.schedule_work();
  }

  template <typename F>
  void call_handler(F&& f) {
    if (!handler_ || handler_gone_) return;
    exception_barrier([&] { f(*handler_); },
                      [&](std::string_view what) {
                        log::error(kLog, "handler threw: " + std::string(what));
                        handler_failed();
                      });
  }

  void handler_failed() {
    handler_gone_ = true;
    if (!head_sent_) {
      send_error(500, "internal_error", "internal error");
    } else {
      fail_stream(NGHTTP2_INTERNAL_ERROR);
    }
  }

  Impl& conn_;
  const int32_t id_;
  EvBufferPtr out_;  // response body not yet taken by nghttp2
  EventPtr timer_;
  BodyDeadline body_deadline_;
  std::chrono::milliseconds idle_timeout_;
  RequestHead head_;
  std::string authority_;
  std::string cookie_;
  std::string stash_;  // request body received while paused
  std::unique_ptr<ServerStreamHandler> handler_;
  size_t header_bytes_ = 0;
  size_t header_count_ = 0;
  uint64_t body_bytes_ = 0;
  bool head_request_ = false;
  bool head_sent_ = false;
  bool body_ended_ = false;              // the handler ended the response
  bool response_submitted_end_ = false;  // END_STREAM handed to nghttp2
  bool response_complete_ = false;       // END_STREAM written
  bool reset_when_answered_ = false;     // the body timed out: stop it once answered
  bool discard_body_ = false;
  bool deferred_ = false;
  bool want_drained_ = false;
  bool body_paused_ = false;
  bool request_ended_ = false;
  bool end_delivered_ = false;  // the handler was told the request ended
  bool handler_gone_ = false;   // reset, answered locally, or told on_reset()
  bool closed_ = false;
};

// --- nghttp2 callbacks ----------------------------------------------------------

int Http2Connection::Impl::on_begin_headers(const nghttp2_frame* frame) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  const int32_t id = frame->hd.stream_id;
  auto stream = std::make_unique<Stream>(*this, id);
  streams.emplace(id, std::move(stream));
  update_idle_timer();
  return 0;
}

int Http2Connection::Impl::on_header(const nghttp2_frame* frame, std::string_view name,
                                     std::string_view value) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;  // trailers are not forwarded (and never used for auth)
  }
  Stream* s = find(frame->hd.stream_id);
  if (!s) return 0;
  if (!s->add_header(name, value)) {
    log::info(kLog, "request header list above " +
                        std::to_string(options.http2.max_header_list_bytes) +
                        " bytes; resetting the stream");
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // RST_STREAM
  }
  return 0;
}

int Http2Connection::Impl::on_frame_recv(const nghttp2_frame* frame) {
  const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      earn_budget(2);
      Stream* s = find(frame->hd.stream_id);
      if (!s) return 0;
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        s->on_headers_complete(end_stream);
      } else if (end_stream) {
        s->on_request_end();  // after trailers
      }
      return 0;
    }
    case NGHTTP2_DATA: {
      if (frame->hd.length == 0 && !end_stream) {
        spend_budget(1);
      } else {
        earn_budget(2);
      }
      if (end_stream) {
        if (Stream* s = find(frame->hd.stream_id)) s->on_request_end();
      }
      return 0;
    }
    case NGHTTP2_PRIORITY:
    case NGHTTP2_WINDOW_UPDATE:
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) spend_budget(1);
      return 0;
    default:
      return 0;
  }
}

int Http2Connection::Impl::on_data_chunk(int32_t id, const uint8_t* data, size_t len) {
  Stream* s = find(id);
  if (!s) {
    if (nghttp2_session_consume(session.get(), id, len) != 0) {
      nghttp2_session_consume_connection(session.get(), len);
    }
    return 0;
  }
  s->on_data(data, len);
  return 0;
}

int Http2Connection::Impl::on_stream_close(int32_t id, uint32_t) {
  if (Stream* s = find(id)) {
    s->on_closed();
    retire(id);
  }
  return 0;
}

int Http2Connection::Impl::on_frame_send(const nghttp2_frame* frame) {
  if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    if (Stream* s = find(frame->hd.stream_id)) s->on_response_end_sent();
  }
  if (frame->hd.type == NGHTTP2_DATA) earn_budget(1);  // the peer answers with WINDOW_UPDATE
  return 0;
}

void Http2Connection::Impl::spend_budget(int64_t n) {
  frame_budget -= n;
  if (frame_budget >= 0 || closing || !session) return;
  log::warn(kLog, "too many frames without progress from " + info.peer_address + "; closing");
  nghttp2_session_terminate_session(session.get(), NGHTTP2_ENHANCE_YOUR_CALM);
  finishing = true;
}

void Http2Connection::Impl::retire(int32_t id) {
  auto it = streams.find(id);
  if (it == streams.end()) return;
  retired.push_back(std::move(it->second));
  streams.erase(it);
  update_idle_timer();
  schedule_work();
}

// --- connection I/O ---------------------------------------------------------------

namespace {

template <typename F>
int guarded(void*, F&& f) noexcept {
  int result = NGHTTP2_ERR_CALLBACK_FAILURE;
  exception_barrier(
      [&] { result = f(); },
      [](std::string_view what) { log::error(kLog, "callback failed: " + std::string(what)); });
  return result;
}

}  // namespace

bool Http2Connection::Impl::init() {
  nghttp2_session_callbacks* raw_callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&raw_callbacks) != 0) return false;
  CallbacksPtr callbacks(raw_callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(
      raw_callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* u) noexcept {
        return guarded(u, [&] { return static_cast<Impl*>(u)->on_begin_headers(frame); });
      });
  nghttp2_session_callbacks_set_on_header_callback(
      raw_callbacks,
      [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
         const uint8_t* value, size_t valuelen, uint8_t, void* u) noexcept {
        return guarded(u, [&] {
          return static_cast<Impl*>(u)->on_header(
              frame, std::string_view(reinterpret_cast<const char*>(name), namelen),
              std::string_view(reinterpret_cast<const char*>(value), valuelen));
        });
      });
  // nghttp2 silently drops a regular field with bytes that are not allowed
  // (CR, LF, NUL, upper case, whitespace at either end); the request is
  // refused as malformed instead (RFC 9113 §8.2.1): RST_STREAM PROTOCOL_ERROR.
  nghttp2_session_callbacks_set_on_invalid_header_callback(
      raw_callbacks, [](nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                        const uint8_t*, size_t, uint8_t, void*) noexcept {
        return static_cast<int>(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE);
      });
  nghttp2_session_callbacks_set_on_frame_recv_callback(
      raw_callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* u) noexcept {
        return guarded(u, [&] { return static_cast<Impl*>(u)->on_frame_recv(frame); });
      });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      raw_callbacks,
      [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* u) noexcept {
        return guarded(u, [&] { return static_cast<Impl*>(u)->on_data_chunk(id, data, len); });
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      raw_callbacks, [](nghttp2_session*, int32_t id, uint32_t error_code, void* u) noexcept {
        return guarded(u, [&] { return static_cast<Impl*>(u)->on_stream_close(id, error_code); });
      });
  nghttp2_session_callbacks_set_on_frame_send_callback(
      raw_callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* u) noexcept {
        return guarded(u, [&] { return static_cast<Impl*>(u)->on_frame_send(frame); });
      });

  nghttp2_option* raw_option = nullptr;
  if (nghttp2_option_new(&raw_option) != 0) return false;
  OptionPtr option(raw_option);
  // Request bodies are acknowledged only once the handler took them, so a
  // paused stream holds at most one window of data.
  nghttp2_option_set_no_auto_window_update(raw_option, 1);
  nghttp2_option_set_max_outbound_ack(raw_option, 1000);
  nghttp2_option_set_max_settings(raw_option, 32);
#ifdef MAG_HAVE_NGHTTP2_STREAM_RESET_RATE_LIMIT
  nghttp2_option_set_stream_reset_rate_limit(raw_option, 1000, 33);
#endif
#ifdef MAG_HAVE_NGHTTP2_MAX_CONTINUATIONS
  nghttp2_option_set_max_continuations(raw_option, 8);
#endif
  nghttp2_session* raw_session = nullptr;
  if (nghttp2_session_server_new2(&raw_session, raw_callbacks, this, raw_option) != 0) {
    return false;
  }
  session.reset(raw_session);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options.http2.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options.http2.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, options.http2.max_header_list_bytes},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  if (nghttp2_submit_settings(session.get(), NGHTTP2_FLAG_NONE, settings,
                              sizeof settings / sizeof settings[0]) != 0) {
    return false;
  }
  nghttp2_session_set_local_window_size(session.get(), NGHTTP2_FLAG_NONE, 0, kConnectionWindow);

  work.reset(event_new(
      base, -1, 0,
      [](evutil_socket_t, short, void* arg) noexcept {
        auto* impl = static_cast<Impl*>(arg);
        bool destroy = false;
        try {
          impl->on_work();
          destroy = impl->closing;
        } catch (...) {
          log::error(kLog, "connection work failed");
          destroy = true;
        }
        if (destroy) {
          // A copy: the call destroys `impl`, and with it `impl->done`.
          ConnectionDone done = impl->done;
          done(&impl->self);  // last use of `impl`
        }
      },
      this));
  idle_timer.reset(evtimer_new(
      base,
      [](evutil_socket_t, short, void* arg) noexcept {
        auto* impl = static_cast<Impl*>(arg);
        if (impl->closing || !impl->streams.empty()) return;
        try {
          nghttp2_submit_goaway(impl->session.get(), NGHTTP2_FLAG_NONE,
                                nghttp2_session_get_last_proc_stream_id(impl->session.get()),
                                NGHTTP2_NO_ERROR, nullptr, 0);
          impl->finishing = true;
          impl->schedule_work();
        } catch (...) {
        }
      },
      this));
  bufferevent_setcb(
      bev.get(),
      [](bufferevent*, void* arg) noexcept {
        guarded(arg, [&] {
          static_cast<Impl*>(arg)->on_read();
          return 0;
        });
      },
      [](bufferevent*, void* arg) noexcept {
        guarded(arg, [&] {
          static_cast<Impl*>(arg)->on_write();
          return 0;
        });
      },
      [](bufferevent*, short what, void* arg) noexcept {
        guarded(arg, [&] {
          static_cast<Impl*>(arg)->on_event(what);
          return 0;
        });
      },
      this);
  bufferevent_setwatermark(bev.get(), EV_READ, 0, 256 * 1024);
  bufferevent_setwatermark(bev.get(), EV_WRITE, options.http2.socket_write_cap / 2, 0);
  bufferevent_enable(bev.get(), EV_READ | EV_WRITE);
  update_idle_timer();
  return true;
}

void Http2Connection::Impl::on_read() {
  if (closing || !session) return;
  evbuffer* in = bufferevent_get_input(bev.get());
  if (linger.active()) {
    if (const auto wait = linger.discard(in)) {
      arm_linger_timer(*wait);
    } else {
      begin_close("done");
    }
    return;
  }
  // nghttp2 sees whole frames only, each in one mem_recv call. Debian's
  // nghttp2 1.52 counts its CONTINUATION limit (max_continuations) per call,
  // not per frame, so a legitimate header block that arrives a few bytes
  // per read would otherwise be refused as a CONTINUATION flood (H2-12b).
  // Only the 24-bit length of the frame header is read here; everything
  // else, an oversized frame included, is nghttp2's to judge.
  while (evbuffer_get_length(in) > 0 && !closing) {
    const size_t have = evbuffer_get_length(in);
    if (feed_left == 0) {
      if (preface_left > 0) {
        feed_left = std::min(have, preface_left);
        preface_left -= feed_left;
      } else {
        if (have < kFrameHeaderLength) break;
        uint8_t hd[kFrameHeaderLength];
        evbuffer_copyout(in, hd, sizeof hd);
        const size_t length = (size_t{hd[0]} << 16) | (size_t{hd[1]} << 8) | size_t{hd[2]};
        if (length > kMaxFrameLength) {
          feed_left = have;  // nghttp2 refuses it from the header (FRAME_SIZE_ERROR)
        } else if (have < kFrameHeaderLength + length) {
          break;  // wait for the rest of the frame
        } else {
          feed_left = kFrameHeaderLength + length;
        }
      }
    }
    const size_t len = std::min(feed_left, have);
    const unsigned char* data = evbuffer_pullup(in, static_cast<ev_ssize_t>(len));
    if (!data) break;
    const ssize_t n = nghttp2_session_mem_recv(session.get(), data, len);
    if (n < 0) {
      // NGHTTP2_ERR_FLOODED included: the peer is not reading our ACKs.
      log::debug(kLog, std::string("closing connection: ") + nghttp2_strerror(static_cast<int>(n)));
      evbuffer_drain(in, evbuffer_get_length(in));
      begin_close("protocol error");
      return;
    }
    evbuffer_drain(in, static_cast<size_t>(n));
    feed_left -= std::min(feed_left, static_cast<size_t>(n));
  }
  if (nghttp2_session_get_outbound_queue_size(session.get()) > options.http2.max_outbound_queue) {
    begin_close("outbound queue too large");
    return;
  }
  flush();
}

void Http2Connection::Impl::on_write() {
  if (closing || linger.active()) return;
  if (reading_paused) {
    reading_paused = false;
    bufferevent_enable(bev.get(), EV_READ);
  }
  flush();
}

void Http2Connection::Impl::on_event(short what) {
  if (closing) return;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) begin_close("peer closed");
}

void Http2Connection::Impl::flush() {
  if (closing || !session || linger.active()) return;
  evbuffer* out = bufferevent_get_output(bev.get());
  while (evbuffer_get_length(out) < options.http2.socket_write_cap) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session.get(), &data);
    if (n < 0) {
      begin_close(nghttp2_strerror(static_cast<int>(n)));
      return;
    }
    if (n == 0) break;
    bufferevent_write(bev.get(), data, static_cast<size_t>(n));
  }
  if (evbuffer_get_length(out) >= options.http2.socket_write_cap && !reading_paused) {
    // The peer does not read: stop reading its frames (which would make us
    // queue more ACKs and responses) until the socket drains.
    reading_paused = true;
    bufferevent_disable(bev.get(), EV_READ);
  }
  if (draining && streams.empty()) finishing = true;
  const bool session_over =
      !nghttp2_session_want_read(session.get()) && !nghttp2_session_want_write(session.get());
  if ((session_over || finishing) && evbuffer_get_length(out) == 0 &&
      !nghttp2_session_want_write(session.get())) {
    begin_linger();
  }
}

// The session is over and its last frames (a GOAWAY) are written: linger so
// that client bytes still in flight do not turn the close into an RST that
// destroys the GOAWAY before the client reads it.
void Http2Connection::Impl::begin_linger() {
  if (linger.active() || closing) return;
  if (idle_timer) evtimer_del(idle_timer.get());
  linger_timer.reset(evtimer_new(
      base,
      [](evutil_socket_t, short, void* arg) noexcept {
        guarded(arg, [&] {
          static_cast<Impl*>(arg)->begin_close("done");
          return 0;
        });
      },
      this));
  if (!linger_timer) {
    begin_close("done");
    return;
  }
  const auto wait = linger.start(bufferevent_getfd(bev.get()), bufferevent_get_input(bev.get()));
  reading_paused = false;
  bufferevent_enable(bev.get(), EV_READ);
  arm_linger_timer(wait);
}

void Http2Connection::Impl::arm_linger_timer(std::chrono::milliseconds wait) {
  timeval tv = to_timeval(wait);
  evtimer_add(linger_timer.get(), &tv);
}

void Http2Connection::Impl::on_work() {
  retired.clear();  // handlers first (their destructors may call the stream: no-op)
  if (closing) return;
  std::vector<int32_t> now_resumed;
  now_resumed.swap(resumed);
  for (int32_t id : now_resumed) {
    if (Stream* s = find(id)) s->deliver_stash();
  }
  std::vector<int32_t> now_drained;
  now_drained.swap(drained);
  for (int32_t id : now_drained) {
    if (Stream* s = find(id)) s->notify_drained();
  }
  flush();
  if (!retired.empty()) schedule_work();
}

void Http2Connection::Impl::begin_close(std::string_view why) {
  if (closing) return;
  log::debug(kLog, "closing connection: " + std::string(why));
  closing = true;
  if (idle_timer) evtimer_del(idle_timer.get());
  if (linger_timer) evtimer_del(linger_timer.get());
  if (bev) bufferevent_disable(bev.get(), EV_READ | EV_WRITE);
  for (auto& [id, stream] : streams) stream->on_closed();
  for (auto& [id, stream] : streams) retired.push_back(std::move(stream));
  streams.clear();
  schedule_work();
}

void Http2Connection::Impl::update_idle_timer() {
  if (!idle_timer || closing) return;
  if (streams.empty() && options.keepalive_timeout.count() > 0) {
    timeval tv = to_timeval(options.keepalive_timeout);
    evtimer_add(idle_timer.get(), &tv);
  } else {
    evtimer_del(idle_timer.get());
  }
}

// --- Http2Connection ---------------------------------------------------------------

Http2Connection::Http2Connection(event_base* base, BufferEventPtr bev, ConnectionInfo info,
                                 const HandlerFactory& factory, const ServerOptions& options,
                                 const bool& accepting, ConnectionDone done)
    : impl_(std::make_unique<Impl>(*this, base, std::move(bev), std::move(info), factory, options,
                                   accepting, std::move(done))) {}

Http2Connection::~Http2Connection() {
  impl_->closing = true;
  impl_->retired.clear();
  // Streams hold handlers that may reference the session in their destructors
  // (no-ops once closing); the session goes after them.
  for (auto& [id, stream] : impl_->streams) stream->on_closed();
  impl_->streams.clear();
  impl_->session.reset();
}

bool Http2Connection::start() {
  if (!impl_->init()) return false;
  impl_->on_read();  // the preface (and more) may already be buffered
  if (!impl_->closing) impl_->flush();
  return true;
}

void Http2Connection::shutdown_from_server() {
  impl_->begin_close("server shutdown");
  impl_->retired.clear();
}

void Http2Connection::drain() {
  if (impl_->closing || impl_->draining || !impl_->session) return;
  impl_->draining = true;
  nghttp2_submit_goaway(impl_->session.get(), NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(impl_->session.get()),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  impl_->schedule_work();
}

}  // namespace mag::http
