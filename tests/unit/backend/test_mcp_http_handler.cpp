// The HTTP glue of the MCP backend, driven through a recording ServerStream
// on a real libevent loop (no sockets).
#include <doctest/doctest.h>
#include <event2/event.h>

#include <string>

#include "backend/mcp_http_handler.h"
#include "common/core/c_handles.h"

using namespace std::chrono_literals;
using mag::backend::EndpointOptions;
using mag::backend::McpEndpoint;
using mag::backend::McpHttpHandler;

namespace {

class RecordingStream : public mag::http::ServerStream {
 public:
  explicit RecordingStream(event_base* base) : base_(base) {}
  void send_head(mag::http::ResponseHead head, bool end_stream) override {
    this->head = std::move(head);
    head_sent_ = true;
    ended = end_stream;
  }
  void send_body(std::string_view data, bool end_stream) override {
    body.append(data);
    ended = end_stream;
  }
  void send_body(evbuffer*, bool) override { FAIL("unexpected evbuffer body"); }
  void reset() override {}
  size_t pending_bytes() const override { return 0; }
  bool above_high_watermark() const override { return false; }
  void pause_request_body(bool) override {}
  void set_idle_timeout(std::chrono::milliseconds timeout) override { idle_timeout = timeout; }
  const mag::http::ConnectionInfo& connection() const override { return info_; }
  event_base* base() const override { return base_; }
  bool head_sent() const override { return head_sent_; }

  mag::http::ResponseHead head;
  std::string body;
  bool ended = false;
  std::chrono::milliseconds idle_timeout{-1};

 private:
  event_base* base_;
  mag::http::ConnectionInfo info_;
  bool head_sent_ = false;
};

mag::http::RequestHead request_head(const char* method, const std::string& session = "") {
  mag::http::RequestHead head;
  head.method = method;
  head.target = head.path = "/mcp";
  head.headers.add("Content-Type", "application/json");
  head.headers.add("Accept", "application/json, text/event-stream");
  if (!session.empty()) head.headers.add("Mcp-Session-Id", session);
  return head;
}

const std::string kInit =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})";

}  // namespace

TEST_CASE("mcp_http_handler: POST body in pieces gets a complete JSON response") {
  mag::EventBasePtr base(event_base_new());
  McpEndpoint endpoint(EndpointOptions{});
  RecordingStream stream(base.get());
  McpHttpHandler handler(stream, endpoint, 1 << 20);
  handler.on_request_head(request_head("POST"), false);
  handler.on_request_body(std::string_view(kInit).substr(0, 10), false);
  CHECK_FALSE(stream.head_sent());
  handler.on_request_body(std::string_view(kInit).substr(10), true);
  CHECK(stream.head.status == 200);
  CHECK(stream.ended);
  REQUIRE(stream.head.headers.get("Content-Length"));
  CHECK(*stream.head.headers.get("Content-Length") == std::to_string(stream.body.size()));
  CHECK(stream.head.headers.has("Mcp-Session-Id"));
  CHECK(stream.body.find(R"("protocolVersion":"2025-11-25")") != std::string::npos);
}

TEST_CASE("mcp_http_handler: a body over the limit is 413") {
  mag::EventBasePtr base(event_base_new());
  McpEndpoint endpoint(EndpointOptions{});
  RecordingStream stream(base.get());
  McpHttpHandler handler(stream, endpoint, 16);
  handler.on_request_head(request_head("POST"), false);
  handler.on_request_body(kInit, true);
  CHECK(stream.head.status == 413);
  CHECK(endpoint.session_count() == 0);
}

TEST_CASE("mcp_http_handler: a GET stream stays open, keeps alive and ends with its session") {
  mag::EventBasePtr base(event_base_new());
  EndpointOptions options;
  options.sse = true;
  McpEndpoint endpoint(options);
  std::string session;
  {
    RecordingStream init(base.get());
    McpHttpHandler handler(init, endpoint, 1 << 20);
    handler.on_request_head(request_head("POST"), false);
    handler.on_request_body(kInit, true);
    REQUIRE(init.head.headers.get("Mcp-Session-Id"));
    session = *init.head.headers.get("Mcp-Session-Id");
  }
  RecordingStream stream(base.get());
  McpHttpHandler handler(stream, endpoint, 1 << 20, 20ms);
  handler.on_request_head(request_head("GET", session), true);
  CHECK(stream.head.status == 200);
  CHECK_FALSE(stream.ended);
  CHECK(stream.idle_timeout == 0ms);
  CHECK(stream.head.headers.get("Content-Length") == nullptr);
  CHECK(stream.body == ": stream open\n\n");

  timeval wait{0, 70000};
  event_base_loopexit(base.get(), &wait);
  event_base_dispatch(base.get());
  CHECK(stream.body.find(": keep-alive\n\n") != std::string::npos);
  CHECK_FALSE(stream.ended);

  SUBCASE("DELETE ends the stream from the loop") {
    RecordingStream del(base.get());
    McpHttpHandler deleter(del, endpoint, 1 << 20);
    deleter.on_request_head(request_head("DELETE", session), true);
    CHECK(del.head.status == 200);
    CHECK_FALSE(stream.ended);  // not from inside the DELETE
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
    CHECK(stream.ended);
  }
  SUBCASE("client reset detaches: the session stays usable") {
    handler.on_reset();
    CHECK(endpoint.session_count() == 1);
    RecordingStream again(base.get());
    McpHttpHandler second(again, endpoint, 1 << 20);
    second.on_request_head(request_head("GET", session), true);
    CHECK(again.head.status == 200);
  }
}
