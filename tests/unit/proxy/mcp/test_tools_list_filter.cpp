#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/mcp/tools_list_filter.h"

using mag::mcp::filter_tools_list_event;
using mag::mcp::filter_tools_list_json;
using mag::mcp::SseEventSplitter;
using mag::mcp::SseToolsListRewriter;

namespace {

bool only_add(const std::string& tool) {
  return tool == "add";
}

const std::string kList =
    R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"add"},{"name":"rm"},{"name":"sub"}]}})";

}  // namespace

TEST_CASE("tools_list_filter: JSON tools/list result loses the refused tools") {
  auto out = filter_tools_list_json(kList, {"1"}, only_add);
  REQUIRE(out);
  CHECK(*out == R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"add"}]}})");
}

TEST_CASE("tools_list_filter: other ids, other documents and nothing-to-remove stay unchanged") {
  CHECK_FALSE(filter_tools_list_json(kList, {"2"}, only_add));
  CHECK_FALSE(filter_tools_list_json(kList, {}, only_add));
  CHECK_FALSE(filter_tools_list_json(kList, {"1"}, [](const std::string&) { return true; }));
  CHECK_FALSE(filter_tools_list_json("not json", {"1"}, only_add));
  CHECK_FALSE(filter_tools_list_json(R"({"jsonrpc":"2.0","id":1,"result":{}})", {"1"}, only_add));
  // A string id "1" is not the number 1.
  CHECK_FALSE(filter_tools_list_json(kList, {R"("1")"}, only_add));
}

TEST_CASE("tools_list_filter: batch responses are filtered element by element") {
  const std::string batch =
      "[" + kList + R"(,{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"rm"}]}}])";
  auto out = filter_tools_list_json(batch, {"1"}, only_add);
  REQUIRE(out);
  CHECK(out->find(R"("id":1,"result":{"tools":[{"name":"add"}]})") != std::string::npos);
  CHECK(out->find(R"("id":2,"result":{"tools":[{"name":"rm"}]})") != std::string::npos);
}

TEST_CASE("tools_list_filter: the SSE splitter yields complete events whatever the line endings") {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    const std::string stream = "id: 1" + eol + "data: a" + eol + eol + ": comment" + eol + eol +
                               "data: b" + eol + "data: c" + eol + eol;
    std::vector<std::string> events;
    SseEventSplitter splitter(1 << 20);
    for (char c : stream) {  // byte by byte
      CHECK(splitter.feed(std::string_view(&c, 1),
                          [&](std::string_view e) { events.emplace_back(e); }));
    }
    if (eol == "\r") {
      // A trailing CR might still be the first half of CRLF: the last event waits.
      std::string rest;
      splitter.feed("x", [&](std::string_view e) { events.emplace_back(e); });
      CHECK(splitter.pending() == "x");
    }
    REQUIRE(events.size() == 3);
    CHECK(events[0] == "id: 1" + eol + "data: a" + eol + eol);
    CHECK(events[1] == ": comment" + eol + eol);
    CHECK(events[2] == "data: b" + eol + "data: c" + eol + eol);
  }
}

TEST_CASE("tools_list_filter: an oversized incomplete event is reported") {
  SseEventSplitter splitter(16);
  CHECK_FALSE(splitter.feed("data: " + std::string(32, 'x'), [](std::string_view) {}));
}

TEST_CASE("tools_list_filter: an SSE event keeps its id and event fields") {
  const std::string event = "event: message\nid: 42\ndata: " + kList + "\n\n";
  auto out = filter_tools_list_event(event, {"1"}, only_add);
  REQUIRE(out);
  CHECK(*out ==
        "event: message\nid: 42\ndata: "
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"add\"}]}}\n\n");
  CHECK_FALSE(filter_tools_list_event(": ping\n\n", {"1"}, only_add));
}

TEST_CASE(
    "tools_list_filter: the SSE rewriter fed byte by byte rewrites only the tools/list event") {
  const std::string before =
      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
  // A multi-line data field: JSON split over two data lines.
  const std::string list_event =
      "id: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\n"
      "data: \"result\":{\"tools\":[{\"name\":\"rm\"},{\"name\":\"add\"}]}}\r\n\r\n";
  const std::string after = "data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n\n";
  SseToolsListRewriter rewriter({"1"}, only_add);
  std::string out;
  const std::string input = before + list_event + after;
  size_t emitted_before_end = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    rewriter.feed(std::string_view(&input[i], 1), &out);
    if (i + 1 == before.size()) emitted_before_end = out.size();
  }
  rewriter.finish(&out);
  // The first event went out as soon as it was complete, unchanged.
  CHECK(emitted_before_end == before.size());
  CHECK(out ==
        before +
            "id: 7\ndata: "
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"add\"}]}}\n\n" +
            after);
}

TEST_CASE("tools_list_filter: an incomplete event at end of stream passes unchanged") {
  SseToolsListRewriter rewriter({"1"}, only_add);
  std::string out;
  rewriter.feed("data: partial", &out);
  CHECK(out.empty());
  rewriter.finish(&out);
  CHECK(out == "data: partial");
}
