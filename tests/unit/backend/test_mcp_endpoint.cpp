// The MCP endpoint core (backend/mcp_endpoint.*) driven with request heads
// and bodies, no sockets.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backend/jsonrpc.h"
#include "backend/mcp_endpoint.h"

using mag::json_ref;
using mag::JsonPtr;
using mag::backend::EndpointOptions;
using mag::backend::McpEndpoint;
using mag::backend::Reply;
using mag::http::RequestHead;

namespace {

RequestHead post(const std::string& session = "", const std::string& version = "") {
  RequestHead head;
  head.method = "POST";
  head.target = head.path = "/mcp";
  head.headers.add("Content-Type", "application/json");
  head.headers.add("Accept", "application/json, text/event-stream");
  if (!session.empty()) head.headers.add("Mcp-Session-Id", session);
  if (!version.empty()) head.headers.add("MCP-Protocol-Version", version);
  return head;
}

RequestHead with_method(RequestHead head, const char* method) {
  head.method = method;
  return head;
}

JsonPtr parse(const std::string& text) {
  json_error_t error;
  return JsonPtr(json_loads(text.c_str(), 0, &error));
}

std::string request(int id, const std::string& method, const std::string& params = "{}") {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
         R"(","params":)" + params + "}";
}

std::string init_body(const std::string& version) {
  return request(1, "initialize",
                 R"({"protocolVersion":")" + version +
                     R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}})");
}

// Initializes a session and returns its id.
std::string initialize(McpEndpoint& endpoint, const std::string& version = "2025-11-25") {
  Reply reply = endpoint.handle(post(), init_body(version));
  REQUIRE(reply.status == 200);
  const std::string_view* id = reply.headers.get("Mcp-Session-Id");
  REQUIRE(id != nullptr);
  return std::string(*id);
}

// POSTs within a session and returns the parsed JSON body (status checked).
JsonPtr call(McpEndpoint& endpoint, const std::string& session, const std::string& body,
             int expected_status = 200) {
  Reply reply = endpoint.handle(post(session, "2025-11-25"), body);
  CHECK(reply.status == expected_status);
  JsonPtr json = parse(reply.body);
  REQUIRE(json);
  return json;
}

long long error_code(const JsonPtr& response) {
  return json_integer_value(json_object_get(json_object_get(response.get(), "error"), "code"));
}

const json_t* result_of(const JsonPtr& response) {
  return json_object_get(response.get(), "result");
}

JsonPtr call_add(McpEndpoint& endpoint, const std::string& session, const std::string& args) {
  return call(endpoint, session,
              request(7, "tools/call", R"({"name":"add","arguments":)" + args + "}"));
}

// Splits one SSE body into events (field name -> value, "data" joined by \n).
std::vector<std::vector<std::pair<std::string, std::string>>> parse_sse(const std::string& text) {
  std::vector<std::vector<std::pair<std::string, std::string>>> events;
  std::vector<std::pair<std::string, std::string>> current;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      if (!current.empty()) events.push_back(current);
      current.clear();
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == 0) continue;  // comment
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    current.emplace_back(line.substr(0, colon), value);
  }
  return events;
}

}  // namespace

TEST_CASE("mcp_endpoint: initialize echoes each supported version and issues a session") {
  for (const std::string version : {"2025-11-25", "2025-06-18", "2025-03-26"}) {
    CAPTURE(version);
    McpEndpoint endpoint(EndpointOptions{});
    Reply reply = endpoint.handle(post(), init_body(version));
    CHECK(reply.status == 200);
    CHECK(*reply.headers.get("Content-Type") == "application/json");
    const std::string_view* session = reply.headers.get("Mcp-Session-Id");
    REQUIRE(session);
    CHECK(session->size() == 32);
    CHECK(session->find_first_not_of("0123456789abcdef") == std::string::npos);
    JsonPtr body = parse(reply.body);
    REQUIRE(body);
    CHECK(json_integer_value(json_object_get(body.get(), "id")) == 1);
    const json_t* result = result_of(body);
    CHECK(std::string(json_string_value(json_object_get(result, "protocolVersion"))) == version);
    const json_t* tools = json_object_get(json_object_get(result, "capabilities"), "tools");
    CHECK(json_is_false(json_object_get(tools, "listChanged")));
    CHECK(std::string(json_string_value(
              json_object_get(json_object_get(result, "serverInfo"), "name"))) == "mcp-add-server");
    CHECK(endpoint.session_count() == 1);
  }
}

TEST_CASE("mcp_endpoint: initialize with an unknown version answers with the latest") {
  McpEndpoint endpoint(EndpointOptions{});
  Reply reply = endpoint.handle(post(), init_body("1999-01-01"));
  CHECK(reply.status == 200);
  JsonPtr body = parse(reply.body);
  CHECK(std::string(json_string_value(json_object_get(result_of(body), "protocolVersion"))) ==
        "2025-11-25");
}

TEST_CASE("mcp_endpoint: session ids differ between sessions") {
  McpEndpoint endpoint(EndpointOptions{});
  CHECK(initialize(endpoint) != initialize(endpoint));
  CHECK(endpoint.session_count() == 2);
}

TEST_CASE("mcp_endpoint: initialize without protocolVersion is invalid params") {
  McpEndpoint endpoint(EndpointOptions{});
  Reply reply = endpoint.handle(post(), request(1, "initialize", "{}"));
  CHECK(reply.status == 400);
  CHECK(error_code(parse(reply.body)) == -32602);
  CHECK(endpoint.session_count() == 0);
}

TEST_CASE("mcp_endpoint: requests need a known session") {
  McpEndpoint endpoint(EndpointOptions{});
  SUBCASE("before initialize: 400") {
    Reply reply = endpoint.handle(post(), request(2, "ping"));
    CHECK(reply.status == 400);
    JsonPtr body = parse(reply.body);
    REQUIRE(body);
    CHECK(json_is_null(json_object_get(body.get(), "id")));
    CHECK(error_code(body) == -32000);
  }
  SUBCASE("unknown session: 404") {
    initialize(endpoint);
    Reply reply = endpoint.handle(post("0123456789abcdef0123456789abcdef"), request(2, "ping"));
    CHECK(reply.status == 404);
    CHECK(error_code(parse(reply.body)) == -32001);
  }
  SUBCASE("initialize inside an existing session is refused") {
    const std::string session = initialize(endpoint);
    Reply reply = endpoint.handle(post(session), init_body("2025-11-25"));
    CHECK(reply.status == 400);
    CHECK(error_code(parse(reply.body)) == -32600);
  }
}

TEST_CASE("mcp_endpoint: DELETE ends the session") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  CHECK(endpoint.handle(with_method(post(), "DELETE"), "").status == 400);
  Reply deleted = endpoint.handle(with_method(post(session), "DELETE"), "");
  CHECK(deleted.status == 200);
  CHECK(endpoint.session_count() == 0);
  CHECK(endpoint.handle(post(session), request(2, "ping")).status == 404);
  CHECK(endpoint.handle(with_method(post(session), "DELETE"), "").status == 404);
}

TEST_CASE("mcp_endpoint: MCP-Protocol-Version header") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  CHECK(endpoint.handle(post(session, "2025-06-18"), request(2, "ping")).status == 200);
  CHECK(endpoint.handle(post(session), request(2, "ping")).status == 200);  // absent: 2025-03-26
  Reply bad = endpoint.handle(post(session, "2024-01-01"), request(2, "ping"));
  CHECK(bad.status == 400);
  CHECK(error_code(parse(bad.body)) == -32000);
}

TEST_CASE("mcp_endpoint: ping answers an empty result with the request id") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  JsonPtr body = call(endpoint, session, R"({"jsonrpc":"2.0","id":"abc","method":"ping"})");
  CHECK(std::string(json_string_value(json_object_get(body.get(), "id"))) == "abc");
  const json_t* result = result_of(body);
  CHECK(json_is_object(result));
  CHECK(json_object_size(result) == 0);
}

TEST_CASE("mcp_endpoint: tools/list describes add with input and output schemas") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  JsonPtr body = call(endpoint, session, request(3, "tools/list"));
  const json_t* tools = json_object_get(result_of(body), "tools");
  REQUIRE(json_array_size(tools) == 1);
  const json_t* tool = json_array_get(tools, 0);
  CHECK(std::string(json_string_value(json_object_get(tool, "name"))) == "add");
  CHECK(json_is_string(json_object_get(tool, "description")));
  const json_t* input = json_object_get(tool, "inputSchema");
  CHECK(std::string(json_string_value(json_object_get(input, "type"))) == "object");
  for (const std::string p : {"a", "b"}) {
    CAPTURE(p);
    const json_t* prop = json_object_get(json_object_get(input, "properties"), p.c_str());
    CHECK(std::string(json_string_value(json_object_get(prop, "type"))) == "number");
  }
  const json_t* required = json_object_get(input, "required");
  REQUIRE(json_array_size(required) == 2);
  CHECK(std::string(json_string_value(json_array_get(required, 0))) == "a");
  CHECK(std::string(json_string_value(json_array_get(required, 1))) == "b");
  const json_t* output = json_object_get(tool, "outputSchema");
  CHECK(std::string(json_string_value(json_object_get(output, "type"))) == "object");
  CHECK(json_array_size(json_object_get(output, "required")) == 3);
  const json_t* result_prop = json_object_get(json_object_get(output, "properties"), "result");
  CHECK(std::string(json_string_value(json_object_get(result_prop, "type"))) == "number");
}

TEST_CASE("mcp_endpoint: add(2, 3) is 5 as structured content and text") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  JsonPtr body = call_add(endpoint, session, R"({"a":2,"b":3})");
  CHECK(json_integer_value(json_object_get(body.get(), "id")) == 7);
  const json_t* result = result_of(body);
  CHECK(json_is_false(json_object_get(result, "isError")));
  const json_t* content = json_array_get(json_object_get(result, "content"), 0);
  CHECK(std::string(json_string_value(json_object_get(content, "type"))) == "text");
  CHECK(std::string(json_string_value(json_object_get(content, "text"))) == "5");
  const json_t* structured = json_object_get(result, "structuredContent");
  CHECK(json_is_integer(json_object_get(structured, "result")));
  CHECK(json_integer_value(json_object_get(structured, "result")) == 5);
  CHECK(json_integer_value(json_object_get(structured, "a")) == 2);
  CHECK(json_integer_value(json_object_get(structured, "b")) == 3);
  // The integer stays integral on the wire ("5", not "5.0").
  Reply raw = endpoint.handle(
      post(session), request(8, "tools/call", R"({"name":"add","arguments":{"a":2,"b":3}})"));
  CHECK(raw.body.find(R"("result":5})") != std::string::npos);
}

TEST_CASE("mcp_endpoint: add with reals, mixed and overflowing numbers") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  auto structured_result = [&](const std::string& args) {
    JsonPtr body = call_add(endpoint, session, args);
    return json_ref(
        json_object_get(json_object_get(result_of(body), "structuredContent"), "result"));
  };
  auto text = [&](const std::string& args) {
    JsonPtr body = call_add(endpoint, session, args);
    const json_t* content = json_array_get(json_object_get(result_of(body), "content"), 0);
    return std::string(json_string_value(json_object_get(content, "text")));
  };
  JsonPtr r = structured_result(R"({"a":2.5,"b":0.25})");
  CHECK(json_is_real(r.get()));
  CHECK(json_real_value(r.get()) == 2.75);
  CHECK(text(R"({"a":2.5,"b":0.25})") == "2.75");
  CHECK(text(R"({"a":-2,"b":0.5})") == "-1.5");
  CHECK(text(R"({"a":0.1,"b":0.2})") == "0.30000000000000004");
  // int64 overflow falls back to a double rather than wrapping.
  r = structured_result(R"({"a":9223372036854775807,"b":1})");
  CHECK(json_is_real(r.get()));
  CHECK(json_real_value(r.get()) > 9.2e18);
  // A non-finite sum is a tool error, not a crash or an invalid JSON number.
  JsonPtr inf = call_add(endpoint, session, R"({"a":1e308,"b":1e308})");
  CHECK(json_is_true(json_object_get(result_of(inf), "isError")));
}

TEST_CASE("mcp_endpoint: add with bad arguments is a tool error result") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  for (const std::string args : {R"({"a":2})", R"({"a":"2","b":3})", R"({"a":true,"b":3})",
                                 R"({"a":null,"b":3})", R"([2,3])", R"("x")"}) {
    CAPTURE(args);
    JsonPtr body = call_add(endpoint, session, args);
    CHECK(json_object_get(body.get(), "error") == nullptr);
    const json_t* result = result_of(body);
    CHECK(json_is_true(json_object_get(result, "isError")));
    const json_t* content = json_array_get(json_object_get(result, "content"), 0);
    CHECK(std::string(json_string_value(json_object_get(content, "text"))).find("argument") !=
          std::string::npos);
    CHECK(json_object_get(result, "structuredContent") == nullptr);
  }
  JsonPtr no_args = call(endpoint, session, request(9, "tools/call", R"({"name":"add"})"));
  CHECK(json_is_true(json_object_get(result_of(no_args), "isError")));
}

TEST_CASE("mcp_endpoint: unknown tool -32602, unknown method -32601") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  JsonPtr tool =
      call(endpoint, session, request(4, "tools/call", R"({"name":"sub","arguments":{}})"));
  CHECK(error_code(tool) == -32602);
  CHECK(json_integer_value(json_object_get(tool.get(), "id")) == 4);
  JsonPtr no_name = call(endpoint, session, request(4, "tools/call", "{}"));
  CHECK(error_code(no_name) == -32602);
  JsonPtr method = call(endpoint, session, request(5, "resources/list"));
  CHECK(error_code(method) == -32601);
  CHECK(json_integer_value(json_object_get(method.get(), "id")) == 5);
}

TEST_CASE("mcp_endpoint: malformed JSON is 400 with -32700 and a null id") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  for (const std::string text :
       {"{", "", "not json", R"({"a":1,"a":2})", "[[[[[[[[[[[[[[[[[[", "\xff\xfe"}) {
    CAPTURE(text);
    JsonPtr body = call(endpoint, session, text, 400);
    CHECK(error_code(body) == -32700);
    CHECK(json_is_null(json_object_get(body.get(), "id")));
  }
  // Very deep nesting: jansson's depth limit turns it into a parse error.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(error_code(call(endpoint, session, deep, 400)) == -32700);
}

TEST_CASE("mcp_endpoint: invalid request objects are -32600") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  for (const std::string text :
       {R"({"jsonrpc":"1.0","id":1,"method":"ping"})", R"({"id":1,"method":"ping"})",
        R"({"jsonrpc":"2.0","id":1,"method":5})", R"({"jsonrpc":"2.0","id":null,"method":"ping"})",
        R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})",
        R"({"jsonrpc":"2.0","id":1,"method":"ping","params":[1]})", "42", R"({"jsonrpc":"2.0"})"}) {
    CAPTURE(text);
    CHECK(error_code(call(endpoint, session, text, 400)) == -32600);
  }
  JsonPtr with_id = call(endpoint, session, R"({"jsonrpc":"1.0","id":9,"method":"ping"})", 400);
  CHECK(json_integer_value(json_object_get(with_id.get(), "id")) == 9);
}

TEST_CASE("mcp_endpoint: notifications and responses are 202 with no body") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  for (const std::string text :
       {R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
        R"({"jsonrpc":"2.0","method":"notifications/whatever","params":{}})",
        R"({"jsonrpc":"2.0","id":3,"result":{}})",
        R"({"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}})"}) {
    CAPTURE(text);
    Reply reply = endpoint.handle(post(session), text);
    CHECK(reply.status == 202);
    CHECK(reply.body.empty());
  }
}

TEST_CASE("mcp_endpoint: content type, accept, path and method checks") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  SUBCASE("wrong content type: 415") {
    RequestHead head = post(session);
    head.headers.set("Content-Type", "text/plain");
    CHECK(endpoint.handle(head, request(1, "ping")).status == 415);
    head.headers.remove("Content-Type");
    CHECK(endpoint.handle(head, request(1, "ping")).status == 415);
    head.headers.set("Content-Type", "Application/JSON; charset=utf-8");
    CHECK(endpoint.handle(head, request(1, "ping")).status == 200);
  }
  SUBCASE("accept must list both types: 406") {
    RequestHead head = post(session);
    for (const std::string accept : {"application/json", "text/event-stream", "*/*", ""}) {
      CAPTURE(accept);
      head.headers.set("Accept", accept);
      Reply reply = endpoint.handle(head, request(1, "ping"));
      CHECK(reply.status == 406);
      CHECK(error_code(parse(reply.body)) == -32000);
    }
    head.headers.remove("Accept");
    CHECK(endpoint.handle(head, request(1, "ping")).status == 406);
    head.headers.add("Accept", "text/event-stream;q=0.9");
    head.headers.add("Accept", "application/json");
    CHECK(endpoint.handle(head, request(1, "ping")).status == 200);
  }
  SUBCASE("other paths: 404") {
    RequestHead head = post(session);
    head.path = "/mcp/x";
    CHECK(endpoint.handle(head, request(1, "ping")).status == 404);
    head.path = "/";
    CHECK(endpoint.handle(head, request(1, "ping")).status == 404);
  }
  SUBCASE("other methods: 405 with Allow") {
    Reply reply = endpoint.handle(with_method(post(session), "PUT"), "");
    CHECK(reply.status == 405);
    REQUIRE(reply.headers.get("Allow"));
    CHECK(reply.headers.get("Allow")->find("POST") != std::string::npos);
  }
}

TEST_CASE("mcp_endpoint: GET without --sse is 405") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint);
  RequestHead head = with_method(post(session), "GET");
  head.headers.set("Accept", "text/event-stream");
  Reply reply = endpoint.handle(head, "");
  CHECK(reply.status == 405);
  REQUIRE(reply.headers.get("Allow"));
  CHECK(*reply.headers.get("Allow") == "POST, DELETE");
}

TEST_CASE("mcp_endpoint: --sse answers POST requests with one SSE event") {
  EndpointOptions options;
  options.sse = true;
  McpEndpoint endpoint(options);
  Reply init = endpoint.handle(post(), init_body("2025-06-18"));
  CHECK(init.status == 200);
  CHECK(init.sse);
  REQUIRE(init.headers.get("Mcp-Session-Id"));
  const std::string session(*init.headers.get("Mcp-Session-Id"));
  Reply reply = endpoint.handle(
      post(session), request(7, "tools/call", R"({"name":"add","arguments":{"a":2,"b":3}})"));
  CHECK(reply.status == 200);
  CHECK(reply.sse);
  CHECK_FALSE(reply.open_stream);
  CHECK(*reply.headers.get("Content-Type") == "text/event-stream");
  auto events = parse_sse(reply.body);
  REQUIRE(events.size() == 1);
  std::string event, id, data;
  for (const auto& [field, value] : events[0]) {
    if (field == "event") event = value;
    if (field == "id") id = value;
    if (field == "data") data = value;
  }
  CHECK(event == "message");
  CHECK_FALSE(id.empty());
  JsonPtr json = parse(data);
  REQUIRE(json);
  CHECK(json_integer_value(
            json_object_get(json_object_get(result_of(json), "structuredContent"), "result")) == 5);
  // Notifications are still 202, not a stream.
  CHECK(endpoint.handle(post(session), R"({"jsonrpc":"2.0","method":"notifications/initialized"})")
            .status == 202);
}

TEST_CASE("mcp_endpoint: --sse GET opens one standalone stream per session") {
  EndpointOptions options;
  options.sse = true;
  McpEndpoint endpoint(options);
  const std::string session = initialize(endpoint);
  RequestHead get = with_method(post(session), "GET");
  get.headers.remove("Content-Type");
  get.headers.set("Accept", "text/event-stream");

  RequestHead no_session = get;
  no_session.headers.remove("Mcp-Session-Id");
  CHECK(endpoint.handle(no_session, "").status == 400);
  RequestHead json_only = get;
  json_only.headers.set("Accept", "application/json");
  CHECK(endpoint.handle(json_only, "").status == 406);

  Reply stream = endpoint.handle(get, "");
  CHECK(stream.status == 200);
  CHECK(stream.open_stream);
  CHECK(stream.session_id == session);
  CHECK(*stream.headers.get("Content-Type") == "text/event-stream");
  CHECK(stream.body.rfind(":", 0) == 0);  // a comment primes the stream
  int ended = 0;
  REQUIRE(endpoint.attach_stream(session, [&] { ++ended; }));
  CHECK(endpoint.handle(get, "").status == 409);

  SUBCASE("client goes away: the session stays and may open a new stream") {
    endpoint.detach_stream(session);
    CHECK(endpoint.handle(get, "").status == 200);
    CHECK(ended == 0);
  }
  SUBCASE("DELETE ends the stream") {
    CHECK(endpoint.handle(with_method(post(session), "DELETE"), "").status == 200);
    CHECK(ended == 1);
    CHECK(endpoint.attach_stream(session, [] {}) == false);
  }
}

TEST_CASE("mcp_endpoint: batches are served for 2025-03-26 sessions only") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string batch =
      "[" + request(1, "ping") + "," + R"({"jsonrpc":"2.0","method":"notifications/initialized"})" +
      "," + request(2, "tools/call", R"({"name":"add","arguments":{"a":1,"b":2}})") + "," +
      request(3, "nope") + ",42]";
  SUBCASE("2025-03-26: one response per request, in order") {
    const std::string session = initialize(endpoint, "2025-03-26");
    JsonPtr body = call(endpoint, session, batch);
    REQUIRE(json_is_array(body.get()));
    REQUIRE(json_array_size(body.get()) == 4);
    CHECK(json_integer_value(json_object_get(json_array_get(body.get(), 0), "id")) == 1);
    const json_t* add = json_object_get(json_array_get(body.get(), 1), "result");
    CHECK(json_integer_value(
              json_object_get(json_object_get(add, "structuredContent"), "result")) == 3);
    const json_t* nope = json_object_get(json_array_get(body.get(), 2), "error");
    CHECK(json_integer_value(json_object_get(nope, "code")) == -32601);
    const json_t* invalid = json_object_get(json_array_get(body.get(), 3), "error");
    CHECK(json_integer_value(json_object_get(invalid, "code")) == -32600);
    // Only notifications: 202.
    Reply notes = endpoint.handle(post(session),
                                  R"([{"jsonrpc":"2.0","method":"notifications/initialized"}])");
    CHECK(notes.status == 202);
    CHECK(error_code(call(endpoint, session, "[]", 400)) == -32600);
  }
  SUBCASE("2025-06-18 and later: -32600") {
    for (const std::string version : {"2025-06-18", "2025-11-25"}) {
      const std::string session = initialize(endpoint, version);
      CHECK(error_code(call(endpoint, session, batch, 400)) == -32600);
    }
  }
  SUBCASE("initialize in a batch is refused") {
    Reply reply = endpoint.handle(post(), "[" + init_body("2025-03-26") + "]");
    CHECK(reply.status == 400);
    CHECK(error_code(parse(reply.body)) == -32600);
    CHECK(endpoint.session_count() == 0);
  }
}

TEST_CASE("mcp_endpoint: sessions expire when idle and the table is bounded") {
  auto now = std::chrono::steady_clock::time_point{};
  EndpointOptions options;
  options.max_sessions = 2;
  options.idle_timeout = std::chrono::seconds(60);
  options.now = [&] { return now; };
  McpEndpoint endpoint(options);
  const std::string first = initialize(endpoint);
  now += std::chrono::seconds(30);
  const std::string second = initialize(endpoint);
  Reply full = endpoint.handle(post(), init_body("2025-11-25"));
  CHECK(full.status == 503);
  now += std::chrono::seconds(31);  // first is idle for 61 s, second for 31 s
  CHECK(endpoint.expire_idle() == 1);
  CHECK(endpoint.handle(post(first), request(1, "ping")).status == 404);
  CHECK(endpoint.handle(post(second), request(1, "ping")).status == 200);
  initialize(endpoint);  // room again
  CHECK(endpoint.session_count() == 2);
}

TEST_CASE("mcp_endpoint: DNS-rebinding protection checks Host and Origin") {
  EndpointOptions options;
  options.allowed_hosts = {"localhost", "127.0.0.1", "[::1]"};
  McpEndpoint endpoint(options);
  auto with_host = [](const std::string& host, const std::string& origin = "") {
    RequestHead head = post();
    if (!host.empty()) head.headers.add("Host", host);
    if (!origin.empty()) head.headers.add("Origin", origin);
    return head;
  };
  for (const std::string host : {"127.0.0.1:9000", "localhost", "LOCALHOST:1", "[::1]:80"}) {
    CAPTURE(host);
    CHECK(endpoint.handle(with_host(host), init_body("2025-11-25")).status == 200);
  }
  for (const std::string host : {"evil.example.com", "evil.example.com:9000", "127.0.0.1.evil.com",
                                 "", "::1", "a@127.0.0.1"}) {
    CAPTURE(host);
    CHECK(endpoint.handle(with_host(host), init_body("2025-11-25")).status == 421);
  }
  CHECK(
      endpoint.handle(with_host("127.0.0.1:9000", "http://127.0.0.1:9000"), init_body("2025-11-25"))
          .status == 200);
  CHECK(endpoint.handle(with_host("localhost", "https://localhost"), init_body("2025-11-25"))
            .status == 200);
  for (const std::string origin :
       {"http://evil.example.com", "null", "http://127.0.0.1.evil.com:9000", "file://localhost"}) {
    CAPTURE(origin);
    Reply reply = endpoint.handle(with_host("127.0.0.1:9000", origin), init_body("2025-11-25"));
    CHECK(reply.status == 403);
    CHECK(error_code(parse(reply.body)) == -32000);
  }
  const size_t before = endpoint.session_count();
  CHECK(
      endpoint
          .handle(with_host("evil.example.com", "http://evil.example.com"), init_body("2025-11-25"))
          .status == 421);
  CHECK(endpoint.session_count() == before);
}

TEST_CASE("mcp_endpoint: host_of_authority and host_of_origin") {
  using mag::backend::host_of_authority;
  using mag::backend::host_of_origin;
  CHECK(host_of_authority("example.com:80") == "example.com");
  CHECK(host_of_authority("[::1]:8080") == "[::1]");
  CHECK(host_of_authority("[::1]x").empty());
  CHECK(host_of_authority("::1").empty());
  CHECK(host_of_origin("http://localhost:3000") == "localhost");
  CHECK(host_of_origin("https://[::1]") == "[::1]");
  CHECK(host_of_origin("ftp://localhost").empty());
  CHECK(host_of_origin("localhost").empty());
}

TEST_CASE("mcp_endpoint: mutated messages never crash and always get JSON or nothing") {
  McpEndpoint endpoint(EndpointOptions{});
  const std::string session = initialize(endpoint, "2025-03-26");
  const std::vector<std::string> seeds = {
      request(7, "tools/call", R"({"name":"add","arguments":{"a":2,"b":3}})"),
      "[" + request(1, "ping") + "," + request(2, "tools/list") + "]",
      R"({"jsonrpc":"2.0","method":"notifications/initialized"})", init_body("2025-03-26")};
  uint32_t state = 12345;  // deterministic xorshift: the same inputs every run
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  for (int i = 0; i < 3000; ++i) {
    std::string body = seeds[next() % seeds.size()];
    const int edits = 1 + next() % 4;
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = next() % body.size();
      switch (next() % 3) {
        case 0:
          body[at] = static_cast<char>(next() & 0xff);
          break;
        case 1:
          body.erase(at, 1 + next() % 8);
          break;
        default:
          body.insert(at, 1, "{}[]\",:0e-\\"[next() % 11]);
          break;
      }
    }
    Reply reply = endpoint.handle(post(session), body);
    CAPTURE(body);
    CHECK((reply.status == 200 || reply.status == 202 || reply.status == 400));
    if (!reply.body.empty()) CHECK(parse(reply.body) != nullptr);
  }
}

TEST_CASE("mcp_sse: one event with event, id and data lines") {
  CHECK(mag::backend::sse_event("message", "7", R"({"a":1})") ==
        "event: message\nid: 7\ndata: {\"a\":1}\n\n");
}

TEST_CASE("mcp_sse: multi-line data becomes several data lines") {
  CHECK(mag::backend::sse_event("", "", "a\nb") == "data: a\ndata: b\n\n");
}
