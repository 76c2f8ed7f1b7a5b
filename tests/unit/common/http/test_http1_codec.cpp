#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http1_codec.h"

using namespace mag::http;
using namespace std::string_literals;

namespace {

struct Recorder : Http1Parser::Callbacks {
  std::vector<RequestHead> requests;
  std::vector<ResponseHead> responses;
  std::vector<std::string> body_pieces;
  std::string body;
  int completes = 0;
  void on_request_head(RequestHead&& head) override { requests.push_back(std::move(head)); }
  void on_response_head(ResponseHead&& head) override { responses.push_back(std::move(head)); }
  void on_body(std::string_view data) override {
    body_pieces.emplace_back(data);
    body.append(data);
  }
  void on_message_complete() override { ++completes; }
};

// Feeds `raw` in one call; returns the parser's error status (0 if none).
int request_status(const std::string& raw, CodecLimits limits = {}) {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r, limits);
  p.feed(raw.data(), raw.size());
  return p.error_status();
}

int response_status(const std::string& raw) {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kResponse, r);
  p.feed(raw.data(), raw.size());
  return p.error_status();
}

}  // namespace

TEST_CASE("http1_codec: simple GET parses head, path and query") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  std::string raw = "GET /mcp/x?a=1&b=2 HTTP/1.1\r\nHost: example.com:8000\r\nX-Val:  v 1 \r\n\r\n";
  CHECK(p.feed(raw.data(), raw.size()) == raw.size());
  CHECK_FALSE(p.failed());
  CHECK(p.message_complete());
  REQUIRE(r.requests.size() == 1);
  const auto& h = r.requests[0];
  CHECK(h.method == "GET");
  CHECK(h.target == "/mcp/x?a=1&b=2");
  CHECK(h.path == "/mcp/x");
  CHECK(h.query == "a=1&b=2");
  CHECK(h.version_minor == 1);
  CHECK(*h.headers.get("host") == "example.com:8000");
  CHECK(*h.headers.get("x-val") == "v 1");
  CHECK(r.completes == 1);
  CHECK(p.keep_alive());
  CHECK_FALSE(p.expects_body());
}

TEST_CASE("http1_codec: head split across many feeds byte by byte") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  std::string raw = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  for (char c : raw) {
    REQUIRE(p.feed(&c, 1) == 1);
  }
  CHECK(r.completes == 1);
  CHECK(r.body == "hello");
  CHECK(r.body_pieces.size() == 5);  // delivered as it arrived, not buffered
}

TEST_CASE("http1_codec: chunked request body streams and trailers are discarded") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  std::string head = "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked \r\n\r\n";
  CHECK(p.feed(head.data(), head.size()) == head.size());
  REQUIRE(r.requests.size() == 1);
  CHECK(p.expects_body());
  std::string part1 = "3\r\nabc\r\n";
  CHECK(p.feed(part1.data(), part1.size()) == part1.size());
  CHECK(r.body == "abc");
  CHECK(r.completes == 0);
  std::string part2 = "4;ext=1\r\ndefg\r\n0\r\nX-Injected: yes\r\n\r\n";
  CHECK(p.feed(part2.data(), part2.size()) == part2.size());
  CHECK(r.body == "abcdefg");
  CHECK(r.completes == 1);
  CHECK_FALSE(r.requests[0].headers.has("X-Injected"));
}

TEST_CASE("http1_codec: pipelined requests are parsed one per feed") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  std::string one = "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  std::string two = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string three = "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  std::string all = one + two + three;
  size_t used = p.feed(all.data(), all.size());
  CHECK(used == one.size());
  CHECK(r.completes == 1);
  CHECK(p.feed(all.data() + used, all.size() - used) == 0);  // stays complete until next_message
  p.next_message();
  size_t used2 = p.feed(all.data() + used, all.size() - used);
  CHECK(used2 == two.size());
  CHECK(p.keep_alive());
  p.next_message();
  size_t used3 = p.feed(all.data() + used + used2, all.size() - used - used2);
  CHECK(used3 == three.size());
  CHECK_FALSE(p.keep_alive());
  REQUIRE(r.requests.size() == 3);
  CHECK(r.requests[1].path == "/2");
  CHECK(r.requests[2].path == "/3");
  CHECK(r.body == "abc");
}

TEST_CASE("http1_codec: HTTP/1.0 request without Host, keep-alive rules") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  std::string raw = "GET / HTTP/1.0\r\n\r\n";
  p.feed(raw.data(), raw.size());
  CHECK_FALSE(p.failed());
  CHECK(r.requests.at(0).version_minor == 0);
  CHECK_FALSE(p.keep_alive());
  Http1Parser p2(Http1Parser::Mode::kRequest, r);
  std::string ka = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  p2.feed(ka.data(), ka.size());
  CHECK(p2.keep_alive());
}

TEST_CASE("http1_codec: OPTIONS * and leading empty line are accepted") {
  CHECK(request_status("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
  CHECK(request_status("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
  CHECK(request_status("GET / HTTP/1.1\r\nHost: h\r\nContent-Length:  3 \r\n\r\n") == 0);
}

TEST_CASE("http1_codec: request rejections") {
  const std::string H = "Host: a\r\n";
  SUBCASE("bare LF") {
    CHECK(request_status("GET /lf HTTP/1.1\nHost: a\n\n") == 400);
  }
  SUBCASE("bare LF after header") {
    CHECK(request_status("GET / HTTP/1.1\r\nHost: a\n\r\n") == 400);
  }
  SUBCASE("bare CR in value") {
    CHECK(request_status("GET / HTTP/1.1\r\n" + H + "X-C: a\rb\r\n\r\n") == 400);
  }
  SUBCASE("obs-fold") {
    CHECK(request_status("GET / HTTP/1.1\r\n" + H + "X-A: first\r\n second\r\n\r\n") == 400);
  }
  SUBCASE("obs-fold TE") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding:\r\n chunked\r\n\r\n") ==
          400);
  }
  SUBCASE("space before colon") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding : chunked\r\n\r\n") == 400);
  }
  SUBCASE("NUL in value") {
    CHECK(request_status("GET / HTTP/1.1\r\nHost: a\r\nX-User: admin\0junk\r\n\r\n"s) == 400);
  }
  SUBCASE("CTL in value") {
    CHECK(request_status("GET / HTTP/1.1\r\n" + H + "X: a\x01\r\n\r\n") == 400);
  }
  SUBCASE("NUL in target") {
    CHECK(request_status("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s) == 400);
  }
  SUBCASE("no colon") {
    CHECK(request_status("GET / HTTP/1.1\r\n" + H + "NoColon\r\n\r\n") == 400);
  }
  SUBCASE("empty name") {
    CHECK(request_status("GET / HTTP/1.1\r\n" + H + ": v\r\n\r\n") == 400);
  }
  SUBCASE("double space") {
    CHECK(request_status("GET  / HTTP/1.1\r\n" + H + "\r\n") == 400);
  }
  SUBCASE("trailing space") {
    CHECK(request_status("GET / HTTP/1.1 \r\n" + H + "\r\n") == 400);
  }
  SUBCASE("HTTP/0.9") {
    CHECK(request_status("GET /\r\n\r\n") == 400);
  }
  SUBCASE("fragment") {
    CHECK(request_status("GET /pub#/../admin HTTP/1.1\r\n" + H + "\r\n") == 400);
  }
  SUBCASE("absolute-form") {
    CHECK(request_status("GET http://evil.example/x HTTP/1.1\r\n" + H + "\r\n") == 400);
  }
  SUBCASE("asterisk for GET") {
    CHECK(request_status("GET * HTTP/1.1\r\n" + H + "\r\n") == 400);
  }
  SUBCASE("HTTP/2.0") {
    CHECK(request_status("GET / HTTP/2.0\r\n" + H + "\r\n") == 505);
  }
  SUBCASE("HTTP/1.10") {
    CHECK(request_status("GET / HTTP/1.10\r\n" + H + "\r\n") == 505);
  }
  SUBCASE("version overflow") {
    CHECK(request_status("GET / HTTP/4294967297.1\r\n" + H + "\r\n") == 505);
  }
  SUBCASE("garbage version") {
    CHECK(request_status("GET / HTXP/1.1\r\n" + H + "\r\n") == 400);
  }
  SUBCASE("unknown method") {
    CHECK(request_status("FOO / HTTP/1.1\r\n" + H + "\r\n") == 501);
  }
  SUBCASE("lowercase method") {
    CHECK(request_status("get / HTTP/1.1\r\n" + H + "\r\n") == 501);
  }
  SUBCASE("missing Host on 1.1") {
    CHECK(request_status("GET / HTTP/1.1\r\n\r\n") == 400);
  }
  SUBCASE("two Host") {
    CHECK(request_status("GET / HTTP/1.1\r\n" + H + H + "\r\n") == 400);
  }
  SUBCASE("invalid Host") {
    CHECK(request_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400);
  }
  SUBCASE("CL + TE (H1-01)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") ==
          400);
  }
  SUBCASE("TE + CL (H1-02)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n") ==
          400);
  }
  SUBCASE("duplicate CL (H1-03)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Content-Length: 0\r\nContent-Length: 39\r\n\r\n") == 400);
  }
  SUBCASE("identical duplicate CL") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc") == 400);
  }
  SUBCASE("TE list (H1-04)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n") ==
          501);
  }
  SUBCASE("TE xchunked (H1-06)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: xchunked\r\n\r\n") == 501);
  }
  SUBCASE("TE quoted") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Transfer-Encoding: \"chunked\"\r\n\r\n") ==
          501);
  }
  SUBCASE("two TE fields (H1-07)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n") ==
          400);
  }
  SUBCASE("TE on HTTP/1.0") {
    CHECK(request_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  }
  SUBCASE("CL +3 (H1-23)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Content-Length: +3\r\n\r\nabc") == 400);
  }
  SUBCASE("CL 3,3 (H1-25)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Content-Length: 3,3\r\n\r\n") == 400);
  }
  SUBCASE("CL -1") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Content-Length: -1\r\n\r\n") == 400);
  }
  SUBCASE("CL hex") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H + "Content-Length: 0x3\r\n\r\n") == 400);
  }
  SUBCASE("CL overflow (H1-26)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Content-Length: 99999999999999999999\r\n\r\n") == 400);
  }
  SUBCASE("chunk size 0x3 (H1-17)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n") == 400);
  }
  SUBCASE("chunk size +3 (H1-18)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n") == 400);
  }
  SUBCASE("chunk size overflow (H1-20)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n") != 0);
  }
  SUBCASE("chunk size line CR without LF") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n3\rXabc\r\n0\r\n\r\n") == 400);
  }
  SUBCASE("chunk size line bare LF") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n") == 400);
  }
  SUBCASE("space before chunk size") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n") == 400);
  }
  SUBCASE("obs-fold in trailer") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n") == 400);
  }
  SUBCASE("chunk data without CRLF (H1-21)") {
    CHECK(request_status("POST / HTTP/1.1\r\n" + H +
                         "Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n") == 400);
  }
}

TEST_CASE("http1_codec: limits map to 414, 431 and 413") {
  CodecLimits limits;
  limits.max_request_line = 64;
  limits.max_head_bytes = 256;
  limits.max_header_count = 4;
  limits.max_body_bytes = 10;
  std::string long_target = "/" + std::string(100, 'a');
  CHECK(request_status("GET " + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n", limits) == 414);
  CHECK(request_status("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'v') + "\r\n\r\n",
                       limits) == 431);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(request_status(many + "\r\n", limits) == 431);
  CHECK(request_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits) == 413);
  CHECK(request_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
                       limits) == 0);
  CHECK(request_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n",
                       limits) == 413);
}

TEST_CASE("http1_codec: incomplete message at EOF is an error, clean EOF is not") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  p.feed_eof();
  CHECK_FALSE(p.failed());
  std::string partial = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab";
  Http1Parser p2(Http1Parser::Mode::kRequest, r);
  p2.feed(partial.data(), partial.size());
  CHECK_FALSE(p2.failed());
  p2.feed_eof();
  CHECK(p2.failed());
}

TEST_CASE("http1_codec: responses with Content-Length, chunked and close-delimited bodies") {
  SUBCASE("content-length") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    std::string raw =
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbodyHTTP/1.1 204 No Content\r\n\r\n";
    size_t used = p.feed(raw.data(), raw.size());
    CHECK(used == raw.size() - std::string("HTTP/1.1 204 No Content\r\n\r\n").size());
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 200);
    CHECK(r.responses[0].reason == "OK");
    CHECK(r.body == "body");
    CHECK(p.keep_alive());
    p.next_message();
    CHECK(p.feed(raw.data() + used, raw.size() - used) == raw.size() - used);
    CHECK(r.responses.size() == 2);
    CHECK(r.completes == 2);
    CHECK_FALSE(p.expects_body());
  }
  SUBCASE("chunked, streamed") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    std::string head =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n";
    p.feed(head.data(), head.size());
    CHECK(r.responses.size() == 1);
    std::string ev1 = "b\r\ndata: one\n\n\r\n";
    p.feed(ev1.data(), ev1.size());
    CHECK(r.body == "data: one\n\n");
    CHECK(r.completes == 0);
    std::string end = "0\r\n\r\n";
    p.feed(end.data(), end.size());
    CHECK(r.completes == 1);
    CHECK(p.keep_alive());
  }
  SUBCASE("close-delimited") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    std::string raw = "HTTP/1.1 200 OK\r\n\r\nuntil close";
    CHECK(p.feed(raw.data(), raw.size()) == raw.size());
    CHECK(r.completes == 0);
    CHECK(p.expects_body());
    p.feed_eof();
    CHECK_FALSE(p.failed());
    CHECK(r.completes == 1);
    CHECK(r.body == "until close");
    CHECK_FALSE(p.keep_alive());
  }
  SUBCASE("HEAD response has no body despite Content-Length") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    p.set_request_method("HEAD");
    std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    CHECK(p.feed(raw.data(), raw.size()) == raw.size());
    CHECK(r.completes == 1);
    CHECK(r.body.empty());
    CHECK(p.keep_alive());
  }
  SUBCASE("HEAD response without length stays keep-alive") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    p.set_request_method("HEAD");
    std::string raw = "HTTP/1.1 200 OK\r\n\r\n";
    p.feed(raw.data(), raw.size());
    CHECK(r.completes == 1);
    CHECK(p.keep_alive());
  }
  SUBCASE("1xx responses are skipped") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    std::string raw =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    CHECK(p.feed(raw.data(), raw.size()) == raw.size());
    REQUIRE(r.responses.size() == 1);
    CHECK(r.responses[0].status == 201);
    CHECK(r.body == "ok");
    CHECK(r.completes == 1);
  }
  SUBCASE("304 without body") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kResponse, r);
    std::string raw = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
    CHECK(p.feed(raw.data(), raw.size()) == raw.size());
    CHECK(r.completes == 1);
  }
}

TEST_CASE("http1_codec: malformed responses fail") {
  CHECK(response_status("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") != 0);
  CHECK(response_status(
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") != 0);
  CHECK(response_status("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n") != 0);
  CHECK(response_status("HTTP/1.1 200 OK\nX: a\n\n") != 0);
  CHECK(response_status("HTTP/1.1 101 Switching Protocols\r\n\r\n") != 0);
  CHECK(response_status("HTTP/1.1 2000 OK\r\n\r\n") != 0);
  CHECK(response_status("HTTP/1.1 099 X\r\n\r\n") != 0);
  CHECK(response_status("ICY 200 OK\r\n\r\n") != 0);
  CHECK(response_status("HTTP/1.1 200 OK\r\nX : a\r\n\r\n") != 0);
  CHECK(response_status("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") != 0);
  CHECK(response_status("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") == 0);
  CHECK(response_status("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n") == 0);
}

TEST_CASE("http1_codec: serialisers") {
  ResponseHead rh;
  rh.status = 404;
  rh.headers.add("Content-Length", "0");
  rh.headers.add("X-Evil", "a\r\nSet-Cookie: x=1");
  CHECK(serialize_response_head(rh) == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  rh.reason = "Nope";
  CHECK(serialize_response_head(rh, 0) == "HTTP/1.0 404 Nope\r\nContent-Length: 0\r\n\r\n");

  RequestHead q;
  q.method = "POST";
  q.target = "/mcp?x=1";
  q.headers.add("Host", "up");
  CHECK(serialize_request_head(q) == "POST /mcp?x=1 HTTP/1.1\r\nHost: up\r\n\r\n");
  q.target = "/a b\r\n";
  CHECK(serialize_request_head(q) == "POST /a%20b%0D%0A HTTP/1.1\r\nHost: up\r\n\r\n");
  q.target.clear();
  q.path = "/p";
  q.query = "k=v";
  CHECK(serialize_request_head(q).starts_with("POST /p?k=v HTTP/1.1\r\n"));
  CHECK(chunk_prefix(255) == "ff\r\n");
  CHECK(chunk_prefix(1) == "1\r\n");
}

TEST_CASE("http1_codec: stop_after_head leaves the body with the caller") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  p.set_stop_after_head(true);
  std::string head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
  std::string raw = head + "abc";
  size_t used = p.feed(raw.data(), raw.size());
  CHECK(used == head.size());
  CHECK(p.head_complete());
  CHECK(r.body.empty());
  CHECK(p.feed(raw.data() + used, raw.size() - used) == 3);
  CHECK(r.body == "abc");
  CHECK(r.completes == 1);
}

TEST_CASE("http1_codec: chunked message followed by a pipelined request") {
  Recorder r;
  Http1Parser p(Http1Parser::Mode::kRequest, r);
  std::string one =
      "POST /1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
  std::string two = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string all = one + two;
  CHECK(p.feed(all.data(), all.size()) == one.size());
  p.next_message();
  CHECK(p.feed(all.data() + one.size(), two.size()) == two.size());
  CHECK_FALSE(p.failed());
  REQUIRE(r.requests.size() == 2);
  CHECK(r.requests[1].path == "/2");
}

// all_field_chars checks eight bytes at a time before its byte loop:
// every byte value at every offset of a 24-byte value (three
// words, and a 3-byte tail when the value is 27 bytes) must be judged
// exactly as RFC 9110 §5.5 says: HTAB, SP, VCHAR and obs-text only.
TEST_CASE("http1_codec: header value bytes are judged the same at every offset") {
  for (size_t length : {24u, 27u}) {
    for (size_t pos = 0; pos < length; ++pos) {
      for (int b = 0; b < 256; ++b) {
        if (b == '\r' || b == '\n' || b == 0) continue;  // line structure, checked first
        // OWS around a value is trimmed: keep the probe byte away from the ends.
        std::string value = "a" + std::string(length, 'x') + "z";
        value[1 + pos] = static_cast<char>(b);
        const bool allowed = b == '\t' || (b >= 0x20 && b != 0x7f);
        Recorder r;
        Http1Parser p(Http1Parser::Mode::kRequest, r);
        const std::string raw = "GET / HTTP/1.1\r\nHost: h\r\nX-V: " + value + "\r\n\r\n";
        p.feed(raw.data(), raw.size());
        if (allowed) {
          REQUIRE_MESSAGE(!p.failed(), "byte " << b << " at " << pos);
          CHECK(*r.requests.at(0).headers.get("x-v") == value);
        } else {
          REQUIRE_MESSAGE(p.error_status() == 400, "byte " << b << " at " << pos);
          CHECK(p.error_message() == "invalid character in header value");
        }
      }
    }
  }
}

// validate_head finds bare CRs and NULs in one walk each;
// the first offending line still decides which is reported.
TEST_CASE("http1_codec: bare CR and NUL: the first offending line decides") {
  auto message = [](const std::string& raw) {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kRequest, r);
    p.feed(raw.data(), raw.size());
    return p.error_message();
  };
  CHECK(message("GET / HTTP/1.1\r\nHost: h\r\nA: 1\0x\r\nB: 2\rx\r\n\r\n"s) ==
        "NUL in message head");
  CHECK(message("GET / HTTP/1.1\r\nHost: h\r\nA: 1\rx\r\nB: 2\0x\r\n\r\n"s) ==
        "bare CR in message head");
  CHECK(message("GET / HTTP/1.1\r\nHost: h\r\nA: \0 and \r\r\n\r\n"s) == "bare CR in message head");
  CHECK(message("GET / HTTP/1.1\r\nHost: h\r\nA: 1\0\r\n\r\n"s) == "NUL in message head");
}

namespace {

// Releases the head buffer from inside the head callback, as a server does
// when it answers with a streamed response right away.
struct ReleasingRecorder : Recorder {
  Http1Parser* parser = nullptr;
  size_t capacity_in_callback = 0;
  void on_request_head(RequestHead&& head) override {
    capacity_in_callback = parser->head_buffer_capacity();
    parser->release_head_buffer();
    Recorder::on_request_head(std::move(head));
  }
};

}  // namespace

TEST_CASE("http1_codec: release_head_buffer frees the head bytes once parsed") {
  const size_t kNoHeapBuffer = std::string().capacity();  // only the inline (SSO) bytes
  const std::string token(800, 'a');
  const std::string raw =
      "GET /sse HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token + "\r\n\r\n";

  SUBCASE("after the head: freed, and the next message grows it again") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kRequest, r);
    REQUIRE(p.feed(raw.data(), raw.size()) == raw.size());
    REQUIRE(r.requests.size() == 1);
    CHECK(p.head_buffer_capacity() >= raw.size());
    p.release_head_buffer();
    CHECK(p.head_buffer_capacity() == kNoHeapBuffer);
    // The parsed head does not depend on the parser's buffer.
    CHECK(*r.requests[0].headers.get("authorization") == "Bearer " + token);
    p.next_message();
    const std::string second = "GET /2 HTTP/1.1\r\nHost: t\r\nX-A: b\r\n\r\n";
    REQUIRE(p.feed(second.data(), second.size()) == second.size());
    REQUIRE(r.requests.size() == 2);
    CHECK(r.requests[1].path == "/2");
    CHECK(*r.requests[1].headers.get("x-a") == "b");
  }

  SUBCASE("a head still arriving keeps its bytes") {
    Recorder r;
    Http1Parser p(Http1Parser::Mode::kRequest, r);
    const size_t half = raw.size() / 2;
    REQUIRE(p.feed(raw.data(), half) == half);
    const size_t before = p.head_buffer_capacity();
    CHECK(before >= half);
    p.release_head_buffer();
    CHECK(p.head_buffer_capacity() == before);
    REQUIRE(p.feed(raw.data() + half, raw.size() - half) == raw.size() - half);
    REQUIRE(r.requests.size() == 1);
    CHECK(*r.requests[0].headers.get("authorization") == "Bearer " + token);
  }

  SUBCASE("called from the head callback: done when feed() returns") {
    ReleasingRecorder r;
    Http1Parser p(Http1Parser::Mode::kRequest, r);
    r.parser = &p;
    REQUIRE(p.feed(raw.data(), raw.size()) == raw.size());
    CHECK_FALSE(p.failed());
    CHECK(p.message_complete());
    CHECK(r.capacity_in_callback >= raw.size());  // still there while http_parser ran
    CHECK(p.head_buffer_capacity() == kNoHeapBuffer);
    REQUIRE(r.requests.size() == 1);
    CHECK(r.requests[0].path == "/sse");
  }
}

using mag::http::CodecLimits;
using mag::http::Http1Parser;
using mag::http::RequestHead;

// Heads fed in pieces of every size parse and fail exactly as when fed at once.
namespace piecewise {

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

}  // namespace piecewise

using piecewise::feed;
using piecewise::Outcome;

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
