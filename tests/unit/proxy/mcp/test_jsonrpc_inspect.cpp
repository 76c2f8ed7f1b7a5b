#include <doctest/doctest.h>

#include <string>

#include "proxy/mcp/jsonrpc_inspect.h"

using mag::mcp::inspect_jsonrpc;
using mag::mcp::InspectLimits;
using mag::mcp::InspectResult;
using mag::mcp::json_nesting_depth;
using mag::mcp::JsonRpcMessage;
using Status = InspectResult::Status;

TEST_CASE("jsonrpc_inspect: a single tools/call yields method, tool name and id") {
  auto r = inspect_jsonrpc(
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}})");
  REQUIRE(r.status == Status::kOk);
  CHECK_FALSE(r.batch);
  REQUIRE(r.messages.size() == 1);
  CHECK(r.messages[0].kind == JsonRpcMessage::Kind::kRequest);
  CHECK(r.messages[0].method == "tools/call");
  CHECK(r.messages[0].tool_name == "add");
  CHECK(r.messages[0].id == "7");
}

TEST_CASE("jsonrpc_inspect: string ids are kept as compact JSON") {
  auto r = inspect_jsonrpc(R"({"jsonrpc":"2.0","id":"a\"b","method":"tools/list"})");
  REQUIRE(r.status == Status::kOk);
  CHECK(r.messages[0].id == R"("a\"b")");
  CHECK(r.messages[0].tool_name.empty());
}

TEST_CASE("jsonrpc_inspect: notification and response") {
  auto n = inspect_jsonrpc(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  REQUIRE(n.status == Status::kOk);
  CHECK(n.messages[0].kind == JsonRpcMessage::Kind::kNotification);
  CHECK(n.messages[0].id.empty());
  auto resp = inspect_jsonrpc(R"({"jsonrpc":"2.0","id":1,"result":{}})");
  REQUIRE(resp.status == Status::kOk);
  CHECK(resp.messages[0].kind == JsonRpcMessage::Kind::kResponse);
  CHECK(resp.messages[0].method.empty());
}

TEST_CASE("jsonrpc_inspect: a batch yields every element in order") {
  auto r = inspect_jsonrpc(R"([
    {"jsonrpc":"2.0","id":1,"method":"tools/list"},
    {"jsonrpc":"2.0","method":"notifications/progress","params":{}},
    {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sub"}},
    {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add"}}])");
  REQUIRE(r.status == Status::kOk);
  CHECK(r.batch);
  REQUIRE(r.messages.size() == 4);
  CHECK(r.messages[0].method == "tools/list");
  CHECK(r.messages[1].kind == JsonRpcMessage::Kind::kNotification);
  CHECK(r.messages[2].tool_name == "sub");
  CHECK(r.messages[3].tool_name == "add");
}

TEST_CASE("jsonrpc_inspect: malformed bodies are refused, never guessed at") {
  CHECK(inspect_jsonrpc("").status == Status::kMalformed);
  CHECK(inspect_jsonrpc("{").status == Status::kMalformed);
  CHECK(inspect_jsonrpc("not json").status == Status::kMalformed);
  CHECK(inspect_jsonrpc("[]").status == Status::kMalformed);
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"tools/call"} trailing)").status == Status::kMalformed);
  // Duplicate keys: the upstream might read the other one.
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"tools/list","method":"tools/call"})").status ==
        Status::kMalformed);
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"tools/call","params":{"name":"a","name":"b"}})")
            .status == Status::kMalformed);
}

TEST_CASE("jsonrpc_inspect: JSON that is not an authorizable JSON-RPC message") {
  CHECK(inspect_jsonrpc("42").status == Status::kMalformed);  // jansson: top level must be [] or {}
  CHECK(inspect_jsonrpc(R"({"id":1})").status == Status::kInvalidRequest);
  CHECK(inspect_jsonrpc(R"({"id":1,"method":5})").status == Status::kInvalidRequest);
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"tools/call"})").status == Status::kInvalidRequest);
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"tools/call","params":{"name":7}})").status ==
        Status::kInvalidRequest);
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"tools/call","params":{"name":""}})").status ==
        Status::kInvalidRequest);
  CHECK(inspect_jsonrpc(R"([{"id":1,"method":"ping"}, 3])").status == Status::kInvalidRequest);
  // A NUL inside the method would let "tools/call\0" differ between readers.
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"tools/call\u0000x","params":{"name":"a"}})").status ==
        Status::kMalformed);
}

TEST_CASE("jsonrpc_inspect: huge bodies and huge batches are refused") {
  InspectLimits limits;
  limits.max_bytes = 1024;
  std::string big =
      R"({"id":1,"method":"ping","params":{"pad":")" + std::string(2000, 'x') + "\"}}";
  CHECK(inspect_jsonrpc(big, limits).status == Status::kTooLarge);
  std::string batch = "[";
  for (int i = 0; i < 300; ++i) batch += std::string(i ? "," : "") + R"({"id":1,"method":"ping"})";
  batch += "]";
  CHECK(inspect_jsonrpc(batch).status == Status::kInvalidRequest);
}

TEST_CASE("jsonrpc_inspect: deeply nested documents are refused before jansson parses them") {
  std::string deep = R"({"id":1,"method":"ping","params":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  CHECK(inspect_jsonrpc(deep).status == Status::kTooDeep);
  // Brackets inside strings do not count.
  std::string shallow =
      R"({"id":1,"method":"ping","params":{"s":")" + std::string(500, '[') + "\"}}";
  CHECK(inspect_jsonrpc(shallow).status == Status::kOk);
  CHECK(json_nesting_depth(R"({"a":[{"b":"\"[[["}]})", 10) == 3);
  CHECK(json_nesting_depth("[[[[[", 3) == 4);
}

TEST_CASE("jsonrpc_inspect: prompts/get yields the prompt name, resources/* the URI") {
  auto r = inspect_jsonrpc(R"([
    {"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"simple-prompt"}},
    {"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"demo://resource/1"}},
    {"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"demo://a"}},
    {"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"demo://b"}},
    {"jsonrpc":"2.0","id":5,"method":"resources/list","params":{"uri":"ignored"}},
    {"jsonrpc":"2.0","id":6,"method":"prompts/list"}])");
  REQUIRE(r.status == Status::kOk);
  REQUIRE(r.messages.size() == 6);
  CHECK(r.messages[0].prompt_name == "simple-prompt");
  CHECK(r.messages[0].tool_name.empty());
  CHECK(r.messages[1].resource_uri == "demo://resource/1");
  CHECK(r.messages[2].resource_uri == "demo://a");
  CHECK(r.messages[3].resource_uri == "demo://b");
  CHECK(r.messages[4].resource_uri.empty());
  CHECK(r.messages[5].prompt_name.empty());
  // Escapes are decoded as the upstream decodes them.
  auto escaped =
      inspect_jsonrpc(R"({"id":1,"method":"resources/read","params":{"uri":"demo:\/\/x\u0041"}})");
  REQUIRE(escaped.status == Status::kOk);
  CHECK(escaped.messages[0].resource_uri == "demo://xA");
}

TEST_CASE("jsonrpc_inspect: prompts/get and resources/* without a string target are refused") {
  const char* refused[] = {
      R"({"id":1,"method":"prompts/get"})",
      R"({"id":1,"method":"prompts/get","params":{}})",
      R"({"id":1,"method":"prompts/get","params":{"name":7}})",
      R"({"id":1,"method":"prompts/get","params":{"name":""}})",
      R"({"id":1,"method":"prompts/get","params":{"name":["a"]}})",
      R"({"id":1,"method":"prompts/get","params":["simple-prompt"]})",
      R"({"id":1,"method":"prompts/get","params":{"uri":"simple-prompt"}})",
      R"({"id":1,"method":"resources/read","params":{"name":"demo://x"}})",
      R"({"id":1,"method":"resources/read","params":{"uri":null}})",
      R"({"id":1,"method":"resources/read","params":{"uri":""}})",
      R"({"id":1,"method":"resources/subscribe","params":{"uri":{"href":"demo://x"}}})",
      R"({"id":1,"method":"resources/unsubscribe"})",
      R"({"method":"resources/read","params":{"uri":1}})",  // a notification too
      R"([{"id":1,"method":"ping"},{"id":2,"method":"resources/read","params":{}}])",
  };
  for (const char* body : refused) {
    INFO(body);
    CHECK(inspect_jsonrpc(body).status == Status::kInvalidRequest);
  }
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"prompts/get","params":{"name":"a"}})").detail.empty());
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"resources/read"})").detail ==
        "resources/read without a string in params.uri");
  // Duplicate keys in params are malformed, never read one way or the other.
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"resources/read","params":{"uri":"a","uri":"b"}})")
            .status == Status::kMalformed);
}

TEST_CASE("jsonrpc_inspect: completion/complete yields the prompt or template it completes") {
  auto r = inspect_jsonrpc(R"([
    {"jsonrpc":"2.0","id":1,"method":"completion/complete",
     "params":{"ref":{"type":"ref/prompt","name":"args-prompt"},"argument":{"name":"city","value":"P"}}},
    {"jsonrpc":"2.0","id":2,"method":"completion/complete",
     "params":{"ref":{"type":"ref/resource","uri":"demo://resource/{id}"},"argument":{"name":"id","value":"1"}}}])");
  REQUIRE(r.status == Status::kOk);
  REQUIRE(r.messages.size() == 2);
  CHECK(r.messages[0].prompt_name == "args-prompt");
  CHECK(r.messages[0].resource_uri.empty());
  CHECK(r.messages[1].resource_uri == "demo://resource/{id}");
  CHECK(r.messages[1].prompt_name.empty());
  const char* refused[] = {
      R"({"id":1,"method":"completion/complete"})",
      R"({"id":1,"method":"completion/complete","params":{}})",
      R"({"id":1,"method":"completion/complete","params":{"ref":"ref/prompt"}})",
      R"({"id":1,"method":"completion/complete","params":{"ref":{"name":"p"}}})",
      R"({"id":1,"method":"completion/complete","params":{"ref":{"type":"ref/tool","name":"p"}}})",
      R"({"id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","uri":"p"}}})",
      R"({"id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":""}}})",
      R"({"id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","name":"x"}}})",
      R"({"id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":5}}})",
  };
  for (const char* body : refused) {
    INFO(body);
    CHECK(inspect_jsonrpc(body).status == Status::kInvalidRequest);
  }
  CHECK(inspect_jsonrpc(R"({"id":1,"method":"completion/complete","params":{}})").detail ==
        "completion/complete without params.ref of type ref/prompt or ref/resource");
}
