#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/router/header_forwarding.h"

using mag::http::HeaderMap;
using mag::http::RequestHead;
using mag::http::ResponseHead;
using mag::proxy::ForwardContext;
using mag::proxy::make_upstream_request;

namespace {

RequestHead client_request() {
  RequestHead r;
  r.method = "POST";
  r.target = "/mcp?x=1";
  r.path = "/mcp";
  r.query = "x=1";
  r.headers.add("Host", "gateway.example:8000");
  r.headers.add("Authorization", "Bearer secret-token");
  r.headers.add("Content-Type", "application/json");
  r.headers.add("Accept", "application/json, text/event-stream");
  r.headers.add("Mcp-Session-Id", "abc123");
  r.headers.add("MCP-Protocol-Version", "2025-11-25");
  r.headers.add("Last-Event-ID", "ev-7");
  r.headers.add("Mcp-Custom", "kept");
  r.headers.add("Content-Length", "2");
  return r;
}

ForwardContext context() {
  ForwardContext c;
  c.peer_address = "127.0.0.1";
  c.upstream_host = "backend:9000";
  return c;
}

}  // namespace

TEST_CASE("header_forwarding: the upstream path replaces the path, the query stays") {
  ForwardContext c = context();
  RequestHead same = make_upstream_request(client_request(), c);
  CHECK(same.target == "/mcp?x=1");
  CHECK(same.path == "/mcp");
  c.upstream_path = "/base/v1";
  RequestHead up = make_upstream_request(client_request(), c);
  CHECK(up.path == "/base/v1");
  CHECK(up.target == "/base/v1?x=1");
  CHECK(up.query == "x=1");
}

TEST_CASE("header_forwarding: the client's token never goes upstream") {
  RequestHead up = make_upstream_request(client_request(), context());
  CHECK_FALSE(up.headers.has("authorization"));
  RequestHead twice = client_request();
  twice.headers.add("authorization", "Bearer second");
  CHECK_FALSE(make_upstream_request(twice, context()).headers.has("Authorization"));
}

TEST_CASE("header_forwarding: MCP and content headers pass unchanged") {
  RequestHead up = make_upstream_request(client_request(), context());
  CHECK(*up.headers.get("mcp-session-id") == "abc123");
  CHECK(*up.headers.get("mcp-protocol-version") == "2025-11-25");
  CHECK(*up.headers.get("last-event-id") == "ev-7");
  CHECK(*up.headers.get("accept") == "application/json, text/event-stream");
  CHECK(*up.headers.get("content-type") == "application/json");
  CHECK(*up.headers.get("mcp-custom") == "kept");
  CHECK(*up.headers.get("content-length") == "2");
  CHECK(up.method == "POST");
  CHECK(up.target == "/mcp?x=1");
}

TEST_CASE("header_forwarding: Host is the upstream's, X-Forwarded-* are the gateway's") {
  RequestHead in = client_request();
  in.headers.add("X-Forwarded-For", "6.6.6.6");
  in.headers.add("X-Forwarded-Proto", "https");
  in.headers.add("Forwarded", "for=6.6.6.6");
  in.headers.add("X-Real-IP", "6.6.6.6");
  RequestHead up = make_upstream_request(in, context());
  CHECK(up.headers.count("host") == 1);
  CHECK(*up.headers.get("host") == "backend:9000");
  CHECK(up.headers.count("x-forwarded-for") == 1);
  CHECK(*up.headers.get("x-forwarded-for") == "127.0.0.1");
  CHECK(*up.headers.get("x-forwarded-proto") == "http");
  CHECK(*up.headers.get("x-forwarded-host") == "gateway.example:8000");
  CHECK_FALSE(up.headers.has("forwarded"));
  CHECK_FALSE(up.headers.has("x-real-ip"));
}

TEST_CASE("header_forwarding: hop-by-hop fields stop at the gateway") {
  RequestHead in = client_request();
  in.headers.add("Connection", "keep-alive, X-Drop-Me");
  in.headers.add("X-Drop-Me", "1");
  in.headers.add("Keep-Alive", "timeout=5");
  in.headers.add("TE", "trailers");
  in.headers.add("Upgrade", "websocket");
  in.headers.add("Proxy-Authorization", "Basic x");
  in.headers.add("Transfer-Encoding", "chunked");
  in.headers.add("Expect", "100-continue");
  RequestHead up = make_upstream_request(in, context());
  for (const char* name : {"connection", "x-drop-me", "keep-alive", "te", "upgrade",
                           "proxy-authorization", "transfer-encoding", "expect"}) {
    CHECK_MESSAGE(!up.headers.has(name), name);
  }
}

TEST_CASE("header_forwarding: names with an underscore are dropped") {
  RequestHead in = client_request();
  in.headers.add("X_MCP_Subject", "root");
  in.headers.add("x-mcp_scopes", "admin");
  in.headers.add("Mcp_Session_Id", "other");
  in.headers.add("_", "1");
  RequestHead up = make_upstream_request(in, context());
  for (const char* name : {"x_mcp_subject", "x-mcp_scopes", "mcp_session_id", "_"}) {
    CHECK_MESSAGE(!up.headers.has(name), name);
  }
  CHECK(*up.headers.get("mcp-session-id") == "abc123");
  CHECK(*up.headers.get("mcp-custom") == "kept");

  // Past the first 64 fields (decided again on the copy) the same.
  RequestHead many = client_request();
  for (int i = 0; i < 70; ++i) many.headers.add("X-Filler-" + std::to_string(i), "v");
  many.headers.add("X_MCP_Subject", "root");
  many.headers.add("X-Late", "kept");
  RequestHead up_many = make_upstream_request(many, context());
  CHECK_FALSE(up_many.headers.has("x_mcp_subject"));
  CHECK(*up_many.headers.get("x-late") == "kept");
  CHECK(*up_many.headers.get("x-filler-69") == "v");
}

TEST_CASE("header_forwarding: Connection cannot remove the gateway's own fields") {
  RequestHead in = client_request();
  in.headers.add("Connection", "X-Forwarded-For, Host");
  RequestHead up = make_upstream_request(in, context());
  CHECK(*up.headers.get("x-forwarded-for") == "127.0.0.1");
  CHECK(*up.headers.get("host") == "backend:9000");
}

TEST_CASE("header_forwarding: response framing and hop-by-hop fields are dropped") {
  ResponseHead r;
  r.status = 202;
  r.headers.add("Connection", "close, X-Internal");
  r.headers.add("X-Internal", "1");
  r.headers.add("Transfer-Encoding", "chunked");
  r.headers.add("Mcp-Session-Id", "s1");
  r.headers.add("Content-Type", "text/event-stream");
  mag::proxy::filter_upstream_response(r);
  CHECK(r.status == 202);
  CHECK_FALSE(r.headers.has("connection"));
  CHECK_FALSE(r.headers.has("x-internal"));
  CHECK_FALSE(r.headers.has("transfer-encoding"));
  CHECK(*r.headers.get("mcp-session-id") == "s1");
  CHECK(*r.headers.get("content-type") == "text/event-stream");
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

namespace {

std::vector<mag::config::CredentialHeader> credentials() {
  return {{"Authorization", "Bearer gateway-own-secret", "", false},
          {"X-API-Key", "key-from-file", "/run/secrets/key", false}};
}

// Every value of the fields named `name` (any case), in order.
std::vector<std::string> values(const HeaderMap& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& field : headers) {
    if (mag::http::iequals(field.name, name)) out.emplace_back(field.value);
  }
  return out;
}

}  // namespace

TEST_CASE("header_forwarding: credential headers are the gateway's, never the client's") {
  const auto creds = credentials();
  ForwardContext c = context();
  c.credentials = creds;
  RequestHead in = client_request();  // carries the client's own Authorization
  in.headers.add("x-api-key", "client-lower");
  in.headers.add("X-API-KEY", "client-upper");
  in.headers.add("X-Api-Key", "client-mixed");
  in.headers.add("AUTHORIZATION", "Bearer client-second");
  in.headers.add("Connection", "X-API-Key, Authorization");  // cannot remove the gateway's
  RequestHead up = make_upstream_request(in, c);
  CHECK(values(up.headers, "authorization") ==
        std::vector<std::string>{"Bearer gateway-own-secret"});
  CHECK(values(up.headers, "x-api-key") == std::vector<std::string>{"key-from-file"});
  // The name is sent as configured.
  CHECK(std::any_of(up.headers.begin(), up.headers.end(),
                    [](const auto& field) { return field.name == "X-API-Key"; }));
  CHECK(*up.headers.get("mcp-custom") == "kept");
  CHECK(*up.headers.get("host") == "backend:9000");
}

TEST_CASE("header_forwarding: client copies past the 64th field are dropped too") {
  const auto creds = credentials();
  ForwardContext c = context();
  c.credentials = creds;
  RequestHead in = client_request();
  for (int i = 0; i < 70; ++i) in.headers.add("X-Filler-" + std::to_string(i), "v");
  in.headers.add("x-api-key", "late-client-copy");
  in.headers.add("X-Late", "kept");
  RequestHead up = make_upstream_request(in, c);
  CHECK(values(up.headers, "x-api-key") == std::vector<std::string>{"key-from-file"});
  CHECK(*up.headers.get("x-late") == "kept");
}

TEST_CASE("header_forwarding: without credentials a client's other fields pass as before") {
  RequestHead in = client_request();
  in.headers.add("X-API-Key", "client-value");
  RequestHead up = make_upstream_request(in, context());
  CHECK(values(up.headers, "x-api-key") == std::vector<std::string>{"client-value"});
  CHECK_FALSE(up.headers.has("authorization"));
}

TEST_CASE("perf: the credential headers fit the one reservation of the copy") {
  const auto creds = credentials();
  ForwardContext c = context();
  c.credentials = creds;
  c.request_id = "gw-id";  // with Host present: all five gateway fields are added
  RequestHead up = make_upstream_request(client_request(), c);
  CHECK(up.headers.fields().capacity() == up.headers.size());
  CHECK(values(up.headers, "x-api-key").size() == 1);
}
