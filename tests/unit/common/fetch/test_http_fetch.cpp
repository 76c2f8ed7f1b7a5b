#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "common/core/c_handles.h"
#include "common/fetch/http_fetch.h"
#include "tests/unit/raw_test_server.h"

using namespace std::chrono_literals;
using mag::EventBasePtr;
using mag::http::FetchOptions;
using mag::http::FetchResult;
using mag::http::http_get;
using mag::http::parse_url;
using mag::http::ParsedUrl;
using mag::testing::RawConn;
using mag::testing::RawRequest;
using mag::testing::RawServer;
using mag::testing::run_for;
using mag::testing::run_until;

namespace {

struct FetchFixture {
  EventBasePtr base{event_base_new()};
  RawServer server{base.get()};
  std::optional<FetchResult> result;
  int calls = 0;

  std::string url(const std::string& path = "/jwks") {
    return "http://127.0.0.1:" + std::to_string(server.port()) + path;
  }
  std::unique_ptr<mag::http::Fetch> fetch(const std::string& u, FetchOptions options = {}) {
    return http_get(base.get(), u, options, [this](FetchResult r) {
      ++calls;
      result = std::move(r);
    });
  }
  bool run(std::chrono::milliseconds limit = 3000ms) {
    return run_until(
        base.get(), [&] { return result.has_value(); }, limit);
  }
};

}  // namespace

TEST_CASE("http_fetch: GET success") {
  FetchFixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: max-age=60\r\n"
        "Content-Length: 11\r\n\r\n"
        "{\"keys\":[]}");
  };
  auto fetch = f.fetch(f.url("/jwks?x=1"));
  CHECK(f.calls == 0);  // never from inside http_get()
  REQUIRE(f.run());
  CHECK(f.result->ok);
  CHECK(f.result->status == 200);
  CHECK(f.result->body == "{\"keys\":[]}");
  CHECK(f.result->error.empty());
  CHECK(f.result->cache_control == "max-age=60");
  REQUIRE(f.server.total_requests() == 1);
  const RawRequest& req = f.server.conn(0).requests()[0];
  CHECK(req.head.method == "GET");
  CHECK(req.head.target == "/jwks?x=1");
  CHECK(req.head.headers.has("Host"));
  run_for(f.base.get(), 20ms);
  CHECK(f.calls == 1);
}

TEST_CASE("http_fetch: chunked body is assembled") {
  FetchFixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  };
  auto fetch = f.fetch(f.url());
  REQUIRE(f.run());
  CHECK(f.result->ok);
  CHECK(f.result->body == "abcde");
}

TEST_CASE("http_fetch: 404 is a transport success with its status") {
  FetchFixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
  };
  auto fetch = f.fetch(f.url());
  REQUIRE(f.run());
  CHECK(f.result->ok);
  CHECK(f.result->status == 404);
  CHECK(f.result->body == "not found");
}

TEST_CASE("http_fetch: body size cap") {
  FetchFixture f;
  FetchOptions options;
  options.max_body_bytes = 10;
  SUBCASE("announced by Content-Length") {
    f.server.on_request = [](RawConn& c, const RawRequest&) {
      c.write("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n");  // body never sent
    };
  }
  SUBCASE("chunked, discovered while reading") {
    f.server.on_request = [](RawConn& c, const RawRequest&) {
      c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n");
      c.write("6\r\nghijkl\r\n");  // no last chunk: the client must not wait for it
    };
  }
  auto fetch = f.fetch(f.url(), options);
  REQUIRE(f.run(1000ms));
  CHECK_FALSE(f.result->ok);
  CHECK(f.result->error == "too large");
  CHECK(f.result->kind == mag::http::FetchError::kTooLarge);
  CHECK(f.result->body.empty());
  REQUIRE(run_until(f.base.get(), [&] { return f.server.eofs() == 1; }));  // connection dropped
}

TEST_CASE("http_fetch: body exactly at the cap is accepted") {
  FetchFixture f;
  FetchOptions options;
  options.max_body_bytes = 5;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  };
  auto fetch = f.fetch(f.url(), options);
  REQUIRE(f.run());
  CHECK(f.result->ok);
  CHECK(f.result->body == "hello");
}

TEST_CASE("http_fetch: total timeout") {
  FetchFixture f;
  FetchOptions options;
  options.timeout = 150ms;
  SUBCASE("no response at all") {}
  SUBCASE("body trickles forever") {
    f.server.on_request = [](RawConn& c, const RawRequest&) {
      c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab");
    };
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto fetch = f.fetch(f.url(), options);
  REQUIRE(f.run());
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK_FALSE(f.result->ok);
  CHECK(f.result->error == "timeout");
  CHECK(f.result->kind == mag::http::FetchError::kTimeout);
  CHECK(elapsed >= 140ms);
  CHECK(elapsed < 1000ms);
}

TEST_CASE("http_fetch: connection refused") {
  EventBasePtr base{event_base_new()};
  uint16_t port;
  {
    RawServer closed(base.get());
    port = closed.port();
  }
  std::optional<FetchResult> result;
  auto fetch = http_get(base.get(), "http://127.0.0.1:" + std::to_string(port) + "/", {},
                        [&](FetchResult r) { result = std::move(r); });
  REQUIRE(run_until(base.get(), [&] { return result.has_value(); }));
  CHECK_FALSE(result->ok);
  CHECK(result->kind == mag::http::FetchError::kConnect);
  CHECK(result->error.find("connect failed") != std::string::npos);
  CHECK(result->error.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("http_fetch: a host name that does not resolve is a DNS failure naming the host") {
  EventBasePtr base{event_base_new()};
  std::optional<FetchResult> result;
  auto fetch = http_get(base.get(), "http://no-such-host.invalid/jwks", {},
                        [&](FetchResult r) { result = std::move(r); });
  REQUIRE(run_until(
      base.get(), [&] { return result.has_value(); }, 10000ms));
  CHECK_FALSE(result->ok);
  CHECK(result->kind == mag::http::FetchError::kDns);
  CHECK(result->error.find("DNS failure: cannot resolve host 'no-such-host.invalid'") == 0);
}

TEST_CASE(
    "http_fetch: http_request sends the method, headers and body; the answer's headers come back") {
  FetchFixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s-1\r\n"
        "Content-Length: 2\r\n\r\nok");
  };
  mag::http::FetchRequest request;
  request.method = "POST";
  request.url = f.url("/mcp");
  request.headers = {{"Content-Type", "application/json"},
                     {"Accept", "application/json, text/event-stream"}};
  request.body = "{\"jsonrpc\":\"2.0\"}";
  auto fetch = mag::http::http_request(f.base.get(), request, {}, [&](FetchResult r) {
    ++f.calls;
    f.result = std::move(r);
  });
  REQUIRE(f.run());
  REQUIRE(f.result->ok);
  CHECK(f.result->kind == mag::http::FetchError::kNone);
  REQUIRE(f.result->headers.get("Mcp-Session-Id"));
  CHECK(*f.result->headers.get("Mcp-Session-Id") == "s-1");
  CHECK(f.result->body == "ok");
  REQUIRE(f.server.total_requests() == 1);
  const RawRequest& req = f.server.conn(0).requests()[0];
  CHECK(req.head.method == "POST");
  CHECK(req.head.target == "/mcp");
  CHECK(req.body == request.body);
  REQUIRE(req.head.headers.get("Accept"));
  CHECK(*req.head.headers.get("Accept") == "application/json, text/event-stream");
  CHECK(req.head.headers.count("Accept") == 1);
}

TEST_CASE("http_fetch: malformed response is an error") {
  FetchFixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) { c.write("HTTP/1.1 2000 OK\r\n\r\n"); };
  auto fetch = f.fetch(f.url());
  REQUIRE(f.run());
  CHECK_FALSE(f.result->ok);
  CHECK(f.result->error.find("protocol error") != std::string::npos);
}

TEST_CASE("http_fetch: bad URLs fail from the loop") {
  FetchFixture f;
  std::string url;
  SUBCASE("garbage") {
    url = "not a url";
  }
  SUBCASE("unsupported scheme") {
    url = "ftp://127.0.0.1/x";
  }
  SUBCASE("credentials in the URL") {
    url = "http://user:pw@127.0.0.1/x";
  }
  auto fetch = f.fetch(url);
  CHECK(f.calls == 0);
  REQUIRE(f.run());
  CHECK_FALSE(f.result->ok);
  CHECK(f.result->error == "invalid URL");
  CHECK(f.server.accepted() == 0);
}

TEST_CASE("http_fetch: https failures also arrive from the loop") {
  EventBasePtr base{event_base_new()};
  uint16_t port;
  {
    RawServer closed(base.get());
    port = closed.port();
  }
  std::optional<FetchResult> result;
  auto fetch = http_get(base.get(), "https://127.0.0.1:" + std::to_string(port) + "/", {},
                        [&](FetchResult r) { result = std::move(r); });
  CHECK_FALSE(result.has_value());
  REQUIRE(run_until(base.get(), [&] { return result.has_value(); }));
  CHECK_FALSE(result->ok);
  CHECK_FALSE(result->error.empty());
}

TEST_CASE("http_fetch: destroying the Fetch cancels without a callback") {
  FetchFixture f;  // never answers
  SUBCASE("after the request reached the server") {
    auto fetch = f.fetch(f.url());
    REQUIRE(run_until(f.base.get(), [&] { return f.server.total_requests() == 1; }));
    fetch.reset();
    REQUIRE(run_until(f.base.get(), [&] { return f.server.eofs() == 1; }));
  }
  SUBCASE("before a deferred error") {
    auto fetch = f.fetch("not a url");
    fetch.reset();
  }
  run_for(f.base.get(), 50ms);
  CHECK(f.calls == 0);
}

TEST_CASE("http_fetch: the Fetch may be destroyed from inside its callback") {
  FetchFixture f;
  f.server.on_request = [](RawConn& c, const RawRequest&) {
    c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  };
  std::unique_ptr<mag::http::Fetch> fetch;
  std::optional<FetchResult> result;
  fetch = http_get(f.base.get(), f.url(), {}, [&](FetchResult r) {
    result = std::move(r);
    fetch.reset();
  });
  REQUIRE(run_until(f.base.get(), [&] { return result.has_value(); }));
  CHECK(result->ok);
  CHECK_FALSE(fetch);
}

TEST_CASE("http_fetch: parse_url") {
  ParsedUrl u;
  REQUIRE(parse_url("http://Example.COM/a/b?c=d#frag", &u));
  CHECK(u.scheme == "http");
  CHECK(u.host == "example.com");
  CHECK(u.port == 80);
  CHECK(u.path_and_query == "/a/b?c=d");

  REQUIRE(parse_url("HTTPS://idp.example:8443", &u));
  CHECK(u.scheme == "https");
  CHECK(u.port == 8443);
  CHECK(u.path_and_query == "/");

  REQUIRE(parse_url("http://[::1]:9000?x", &u));
  CHECK(u.host == "::1");
  CHECK(u.port == 9000);
  CHECK(u.path_and_query == "/?x");

  REQUIRE(parse_url("https://[2001:db8::1]/jwks", &u));
  CHECK(u.host == "2001:db8::1");
  CHECK(u.port == 443);

  CHECK_FALSE(parse_url("ftp://example.com/", &u));
  CHECK_FALSE(parse_url("example.com/", &u));
  CHECK_FALSE(parse_url("http:///path", &u));
  CHECK_FALSE(parse_url("http://user:pw@example.com/", &u));
  CHECK_FALSE(parse_url("http://example.com:0/", &u));
  CHECK_FALSE(parse_url("http://example.com:65536/", &u));
  CHECK_FALSE(parse_url("http://example.com:/", &u));
  CHECK_FALSE(parse_url("http://example.com:80x/", &u));
  CHECK_FALSE(parse_url("http://exa mple.com/", &u));
  CHECK_FALSE(parse_url("http://example.com/a\r\nX-Injected: 1", &u));
  CHECK_FALSE(parse_url("http://[::1/", &u));
  CHECK_FALSE(parse_url("http://[::1]x/", &u));
  CHECK_FALSE(parse_url("http://[]/", &u));
}
