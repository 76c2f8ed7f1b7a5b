#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/mcp/request_screen.h"

using mag::http::RequestHead;
using mag::proxy::screen_inspected_request;
using mag::proxy::screen_mcp_headers;

namespace {

RequestHead request(std::string method, std::vector<std::pair<std::string, std::string>> fields) {
  RequestHead head;
  head.method = std::move(method);
  head.path = head.target = "/mcp";
  for (const auto& [name, value] : fields) head.headers.add(name, value);
  return head;
}

// The status of the refusal, 0 when the request passes.
int screened(const RequestHead& head) {
  auto reply = screen_inspected_request(head);
  return reply ? reply->head.status : 0;
}

int screened_mcp(const RequestHead& head) {
  auto reply = screen_mcp_headers(head.headers);
  return reply ? reply->head.status : 0;
}

}  // namespace

TEST_CASE("request_screen: a POST body is plain UTF-8 JSON or refused with 415") {
  CHECK(screened(request("POST", {{"Content-Type", "application/json"}})) == 0);
  CHECK(screened(request("POST", {{"content-type", "application/json; charset=utf-8"}})) == 0);
  CHECK(screened(request("POST", {{"Content-Type", "APPLICATION/JSON;CHARSET=\"UTF-8\""}})) == 0);
  CHECK(screened(request("POST", {{"Content-Type", "application/json"},
                                  {"Content-Encoding", "identity"}})) == 0);

  CHECK(screened(request("POST", {})) == 415);
  for (const char* type :
       {"application/json; charset=utf-7", "application/json;charset=UTF-16",
        "application/json; charset=latin1", "text/plain", "application/json;foo=bar",
        "application/json, application/json", "application/x-www-form-urlencoded"}) {
    CHECK_MESSAGE(screened(request("POST", {{"Content-Type", type}})) == 415, type);
  }
  // Two fields: which one an upstream believes is its own business.
  CHECK(screened(request("POST", {{"Content-Type", "application/json"},
                                  {"Content-Type", "application/json; charset=utf-7"}})) == 400);

  auto reply = screen_inspected_request(
      request("POST", {{"Content-Type", "application/json; charset=utf-7"}}));
  REQUIRE(reply);
  CHECK(*reply->head.headers.get("content-type") == "application/json");
  CHECK(reply->body.find(R"("jsonrpc":"2.0")") != std::string::npos);
  CHECK(reply->body.find(R"("code":-32000)") != std::string::npos);
  CHECK(reply->body.find("\"id\"") == std::string::npos);
}

TEST_CASE("request_screen: a content coding other than identity is refused with 415") {
  for (const char* coding : {"gzip", "deflate", "br", "x-gzip", "identity, gzip", "", "GZIP"}) {
    auto reply = screen_inspected_request(
        request("POST", {{"Content-Type", "application/json"}, {"Content-Encoding", coding}}));
    REQUIRE_MESSAGE(reply, coding);
    CHECK(reply->head.status == 415);
    CHECK(*reply->head.headers.get("accept-encoding") == "identity");
  }
  CHECK(screened(request("POST", {{"Content-Type", "application/json"},
                                  {"Content-Encoding", "identity"},
                                  {"Content-Encoding", "identity"}})) == 415);
  CHECK(screened(request("POST", {{"Content-Type", "application/json"},
                                  {"Content-Encoding", "IDENTITY"}})) == 0);
}

TEST_CASE("request_screen: any other method announcing a body is refused with 400") {
  for (const char* method : {"GET", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"}) {
    CHECK_MESSAGE(screened(request(method, {})) == 0, method);
    CHECK_MESSAGE(screened(request(method, {{"Content-Length", "0"}})) == 0, method);
    CHECK_MESSAGE(screened(request(method, {{"Content-Length", "5"}})) == 400, method);
    CHECK_MESSAGE(screened(request(method, {{"Transfer-Encoding", "chunked"}})) == 400, method);
  }
  // Content-Type and charset do not matter without a body.
  CHECK(screened(request("GET", {{"Content-Type", "application/json; charset=utf-7"}})) == 0);
  auto reply = screen_inspected_request(request("DELETE", {{"Content-Length", "12"}}));
  REQUIRE(reply);
  CHECK(reply->body.find(R"("code":-32600)") != std::string::npos);
  CHECK(reply->body.find("DELETE") != std::string::npos);
}

TEST_CASE("request_screen: one value per MCP header") {
  CHECK(screened_mcp(request("POST", {{"Mcp-Session-Id", "abc"},
                                      {"MCP-Protocol-Version", "2025-11-25"},
                                      {"Mcp-Method", "tools/call"},
                                      {"Mcp-Name", "add"}})) == 0);
  for (const char* name :
       {"Mcp-Session-Id", "mcp-session-id", "MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"}) {
    CHECK_MESSAGE(screened_mcp(request("GET", {{name, "a"}, {name, "b"}})) == 400, name);
    CHECK_MESSAGE(screened_mcp(request("GET", {{name, "a"}, {name, "a"}})) == 400, name);
    CHECK_MESSAGE(screened_mcp(request("GET", {{name, "a,b"}})) == 400, name);
    CHECK_MESSAGE(screened_mcp(request("GET", {{name, "a, b"}})) == 400, name);
  }
  // Other headers may repeat and carry lists.
  CHECK(screened_mcp(request("GET", {{"Accept", "application/json, text/event-stream"},
                                     {"X-Custom", "1"},
                                     {"X-Custom", "2"}})) == 0);
  auto reply = screen_mcp_headers(
      request("POST", {{"Mcp-Session-Id", "mine"}, {"Mcp-Session-Id", "theirs"}}).headers);
  REQUIRE(reply);
  CHECK(reply->body.find("Mcp-Session-Id") != std::string::npos);
  CHECK(reply->body.find(R"("code":-32600)") != std::string::npos);
}
