// libFuzzer target: raw client bytes (preface + frames) into the gateway's
// HTTP/2 server connection (common/http/http2_connection.cpp), exactly as
// HttpServer hands a connection over, but on an in-memory bufferevent pair
// instead of a socket, with the event loop run until idle after every slice.
//
// Input layout:
//   byte 0: slice size (1..256) in which the frames are written, so frame and
//           header-block boundaries fall at every position across reads;
//   byte 1: flags: bit 0 the client stops reading (back-pressure, floods),
//           bit 1 no preface is prepended (the fuzzer then writes its own),
//           bits 2-3 what the handler does (see Mode), bit 4 drain() midway;
//   rest:   what the client sends after the connection preface.
// Checks: no crash/leak/UB (ASan/UBSan), a stream handler is never called
// after on_reset(), the server's output stays bounded while the client does
// not read, and tearing the connection down leaves no event behind.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/core/c_handles.h"
#include "common/core/log.h"
#include "common/http/http2_connection.h"

namespace {

using namespace mag::http;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class Mode {
  kAnswerAtEnd = 0,   // 200 with an echo of the body once the request ended
  kAnswerAtHead = 1,  // 200 + 64 KiB body at once (flow control, watermarks)
  kPauseBody = 2,     // pauses the body, resumes on the next event, answers at end
  kReset = 3,         // resets its own stream on the first body byte
};

class Handler final : public ServerStreamHandler {
 public:
  Handler(ServerStream& stream, Mode mode) : stream_(stream), mode_(mode) {}
  ~Handler() override = default;

  void on_request_head(RequestHead&& head, bool end_stream) override {
    check_alive();
    ended_ = end_stream;
    if (head.method.empty() || head.target.empty() || head.target[0] != '/') std::abort();
    if (mode_ == Mode::kAnswerAtHead) {
      ResponseHead r;
      r.status = 200;
      stream_.send_head(std::move(r), false);
      stream_.send_body(std::string(64 * 1024, 'x'), true);
    } else if (mode_ == Mode::kPauseBody) {
      stream_.pause_request_body(true);
      stream_.pause_request_body(false);
    }
    // kPauseBody answers only from on_request_body(end): a bodiless request
    // stays open, so a spurious end-of-body after the head would show.
    if (end_stream && mode_ != Mode::kPauseBody) answer();
  }

  void on_request_body(std::string_view data, bool end_stream) override {
    check_alive();
    if (ended_) std::abort();  // nothing after the end of the body
    if (mode_ == Mode::kReset && !data.empty()) {
      dead_ = true;  // no on_reset() for its own reset
      stream_.reset();
      return;
    }
    echoed_.append(data.substr(0, 4096 - std::min<size_t>(echoed_.size(), 4096)));
    if (end_stream) {
      ended_ = true;
      answer();
    }
  }

  void on_reset() override {
    check_alive();
    dead_ = true;
  }

  void on_drained() override { check_alive(); }

 private:
  void check_alive() const {
    if (dead_) std::abort();  // called after on_reset() or its own reset()
  }

  void answer() {
    if (answered_ || mode_ == Mode::kAnswerAtHead) return;
    answered_ = true;
    ResponseHead r;
    r.status = 200;
    r.headers.add("content-type", "text/plain");
    r.headers.add("connection", "close");  // connection-specific: must be dropped
    stream_.send_head(std::move(r), false);
    stream_.send_body(echoed_.empty() ? std::string_view("ok") : std::string_view(echoed_), true);
  }

  ServerStream& stream_;
  Mode mode_;
  std::string echoed_;
  bool answered_ = false;
  bool ended_ = false;
  bool dead_ = false;
};

struct Fixture {
  Fixture() {
    mag::log::set_level(mag::log::Level::kError);
    base.reset(event_base_new());
    options.limits.max_body_bytes = 256 * 1024;
    options.http2.max_header_list_bytes = 16 * 1024;
    options.http2.socket_write_cap = 16 * 1024;
  }
  mag::EventBasePtr base;
  ServerOptions options;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Runs the loop until no event is active (bounded: the connection's work
// event must not re-arm itself forever).
void run_until_idle(event_base* base) {
  for (int i = 0; i < 10000; ++i) {
    event_base_loop(base, EVLOOP_NONBLOCK);
    if (event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 0) return;
  }
  std::abort();  // busy loop
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Fixture& fx = fixture();
  event_base* base = fx.base.get();
  const size_t slice = 1 + data[0];
  const uint8_t flags = data[1];
  const bool client_reads = (flags & 1) == 0;
  const bool with_preface = (flags & 2) == 0;
  const Mode mode = static_cast<Mode>((flags >> 2) & 3);
  const bool drain_midway = (flags & 16) != 0;
  std::string input(with_preface ? kPreface : std::string_view());
  input.append(reinterpret_cast<const char*>(data + 2), size - 2);

  bufferevent* pair[2] = {nullptr, nullptr};
  if (bufferevent_pair_new(base, 0, pair) != 0) std::abort();
  mag::BufferEventPtr server_end(pair[0]);
  mag::BufferEventPtr client_end(pair[1]);
  // The client end never has callbacks; while it "reads", its input is
  // emptied after each round, otherwise the pair stops moving bytes once
  // its input reaches the watermark (a peer that does not read).
  bufferevent_setwatermark(client_end.get(), EV_READ, 0, 64 * 1024);
  bufferevent_enable(client_end.get(), EV_READ | EV_WRITE);

  bool accepting = true;
  bool done = false;
  std::unique_ptr<Http2Connection> conn;
  HandlerFactory factory = [mode](ServerStream& s) -> std::unique_ptr<ServerStreamHandler> {
    return std::make_unique<Handler>(s, mode);
  };
  ConnectionInfo info;
  info.peer_address = "127.0.0.1";
  conn = std::make_unique<Http2Connection>(base, std::move(server_end), info, factory, fx.options,
                                           accepting, [&](ServerConnection* c) {
                                             if (c != conn.get()) std::abort();
                                             done = true;
                                             conn.reset();
                                           });
  if (!conn->start()) std::abort();
  run_until_idle(base);

  evbuffer* received = bufferevent_get_input(client_end.get());
  size_t received_total = 0;
  for (size_t off = 0; off < input.size() && !done; off += slice) {
    const size_t n = std::min(slice, input.size() - off);
    bufferevent_write(client_end.get(), input.data() + off, n);
    run_until_idle(base);
    if (drain_midway && conn && off < input.size() / 2 && off + n >= input.size() / 2) {
      accepting = false;
      conn->drain();
      run_until_idle(base);
    }
    received_total += evbuffer_get_length(received);
    if (client_reads) {
      evbuffer_drain(received, evbuffer_get_length(received));
      run_until_idle(base);
    } else if (evbuffer_get_length(received) > 1024 * 1024) {
      // The server must stop producing when the peer does not read: its
      // socket cap plus one round of frames, never megabytes.
      std::abort();
    }
  }
  (void)received_total;

  // The client goes away: the server tears the connection down, as
  // HttpServer's destructor does.
  if (conn) {
    conn->shutdown_from_server();
    conn.reset();
  }
  client_end.reset();
  run_until_idle(base);
  // Every timer and event of the connection and its streams is gone.
  if (event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE) != 0) {
    std::abort();
  }
  return 0;
}
