// Tests for the hot-path rewrites of issue 9 (perf): the HTTP/1.1 head is
// accumulated a line at a time, the upstream head is built in one filtered
// copy, the bearer token is scanned without find_first_of. Each must behave
// exactly as the byte-at-a-time / copy-then-remove versions did.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "common/http/http1_codec.h"
#include "proxy/bearer_token.h"
#include "proxy/header_forwarding.h"

using mag::http::CodecLimits;
using mag::http::Http1Parser;
using mag::http::RequestHead;

namespace {

struct Recorder : Http1Parser::Callbacks {
  RequestHead head;
  int heads = 0;
  int completes = 0;
  void on_request_head(RequestHead&& h) override {
    head = std::move(h);
    ++heads;
  }
  void on_body(std::string_view) override {}
  void on_message_complete() override { ++completes; }
};

struct Outcome {
  size_t consumed = 0;
  int status = 0;
  int heads = 0;
  std::string host;
};

// Feeds `bytes` in pieces of `piece` bytes (0: all at once), stopping at the
// first failure, and reports what the parser did.
Outcome feed(std::string_view bytes, size_t piece, CodecLimits limits = {}) {
  Recorder recorder;
  Http1Parser parser(Http1Parser::Mode::kRequest, recorder, limits);
  Outcome out;
  size_t step = piece == 0 ? bytes.size() : piece;
  for (size_t at = 0; at < bytes.size() && !parser.failed();) {
    size_t n = std::min(step, bytes.size() - at);
    size_t used = parser.feed(bytes.data() + at, n);
    out.consumed += used;
    at += n;
    if (used < n) break;
  }
  out.status = parser.error_status();
  out.heads = recorder.heads;
  if (const std::string_view* host = recorder.head.headers.get("host")) out.host = *host;
  return out;
}

}  // namespace

TEST_CASE("perf: a request head parses the same whatever the read sizes") {
  const std::string request =
      "\r\nPOST /mcp HTTP/1.1\r\nHost: a.example\r\nAuthorization: Bearer " +
      std::string(800, 'x') + "\r\nContent-Length: 0\r\n\r\n";
  for (size_t piece : {0, 1, 2, 3, 7, 64, 1000}) {
    CAPTURE(piece);
    Outcome out = feed(request, piece);
    CHECK(out.status == 0);
    CHECK(out.heads == 1);
    CHECK(out.host == "a.example");
  }
}

TEST_CASE("perf: head limits fail on the same byte whatever the read sizes") {
  CodecLimits limits;
  limits.max_request_line = 20;
  limits.max_head_bytes = 60;
  // Start line of 21 bytes + CRLF: over max_request_line + 2 at byte 23.
  const std::string long_line = "GET /" + std::string(16, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  // Headers past 60 bytes: 431 on the 61st byte.
  const std::string big_head =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n";
  for (size_t piece : {0, 1, 5, 13}) {
    CAPTURE(piece);
    Outcome line = feed(long_line, piece, limits);
    CHECK(line.status == 414);
    CHECK(line.consumed == 23);
    Outcome head = feed(big_head, piece, limits);
    CHECK(head.status == 431);
    CHECK(head.consumed == 61);
    CHECK(head.heads == 0);
  }
}

TEST_CASE("perf: bare LF is refused on the LF byte whatever the read sizes") {
  const std::string request = "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n";
  for (size_t piece : {0, 1, 4}) {
    CAPTURE(piece);
    Outcome out = feed(request, piece);
    CHECK(out.status == 400);
    CHECK(out.consumed == request.find("a\n") + 2);
  }
}

TEST_CASE("perf: one-pass header forwarding drops exactly what it must") {
  RequestHead in;
  in.method = "POST";
  in.target = in.path = "/mcp";
  in.headers.add("Host", "gw.example");
  in.headers.add("authorization", "Bearer t");
  in.headers.add("Connection", "keep-alive, X-Hop");
  in.headers.add("X-Hop", "1");
  in.headers.add("TE", "trailers");
  in.headers.add("X-Request-Id", "client-chosen");
  in.headers.add("X-Kept", "1");
  in.headers.add("x-kept", "2");
  mag::proxy::ForwardContext context;
  context.peer_address = "127.0.0.1";
  context.upstream_host = "up:9000";

  RequestHead up = mag::proxy::make_upstream_request(in, context);
  CHECK_FALSE(up.headers.has("authorization"));
  CHECK_FALSE(up.headers.has("connection"));
  CHECK_FALSE(up.headers.has("x-hop"));
  CHECK_FALSE(up.headers.has("te"));
  CHECK(up.headers.count("x-kept") == 2);
  CHECK(*up.headers.get("x-request-id") == "client-chosen");  // no id of ours: kept
  CHECK(*up.headers.get("host") == "up:9000");

  context.request_id = "gw-id";
  up = mag::proxy::make_upstream_request(in, context);
  CHECK(up.headers.count("x-request-id") == 1);
  CHECK(*up.headers.get("x-request-id") == "gw-id");
}

TEST_CASE("perf: bearer token separators are still refused anywhere in the token") {
  const std::string token(600, 'a');
  for (char sep : {' ', '\t', ','}) {
    for (size_t at : {size_t{0}, size_t{300}, token.size() - 1}) {
      mag::http::HeaderMap headers;
      std::string bad = token;
      bad[at] = sep;
      headers.add("Authorization", "Bearer " + bad);
      CAPTURE(at);
      CHECK(mag::auth::extract_bearer_token(headers).presence !=
            mag::auth::TokenPresence::kPresent);
    }
  }
  mag::http::HeaderMap good;
  good.add("Authorization", "Bearer " + token);
  auto extracted = mag::auth::extract_bearer_token(good);
  CHECK(extracted.presence == mag::auth::TokenPresence::kPresent);
  CHECK(extracted.token == token);
}
