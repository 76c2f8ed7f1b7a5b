#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proxy/mcp/sse_event_splitter.h"
#include "proxy/mcp/sse_tools_list_rewriter.h"
#include "proxy/mcp/tools_list_filter.h"

using mag::mcp::filter_tools_list_event;
using mag::mcp::filter_tools_list_json;
using mag::mcp::SseEventSplitter;
using mag::mcp::SseToolsListRewriter;
using mag::mcp::tools_list_error_json;
using Outcome = mag::mcp::ToolsListFiltered::Outcome;

namespace {

bool only_add(const std::string& tool) {
  return tool == "add";
}

std::string list_response(const std::string& id) {
  return R"({"jsonrpc":"2.0","id":)" + id +
         R"(,"result":{"tools":[{"name":"add"},{"name":"rm"},{"name":"sub"}]}})";
}

const std::string kList = list_response("1");
const std::string kFiltered = R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"add"}]}})";
const std::string kErrorFor1 =
    R"({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"tools/list response could not be filtered"}})";
const std::string kErrorEventFor1 = "event: message\ndata: " + kErrorFor1 + "\n\n";

// Feeds `input` to a rewriter for id 1 in pieces of `step` bytes (0 = all
// at once), then ends the stream.
std::string rewrite(const std::string& input, size_t step, size_t cap = 4 << 20) {
  SseToolsListRewriter rewriter({"1"}, only_add, cap);
  std::string out;
  if (step == 0) step = input.size() + 1;
  for (size_t i = 0; i < input.size(); i += step) {
    rewriter.feed(std::string_view(input).substr(i, step), &out);
  }
  rewriter.finish(&out);
  return out;
}

// Line ends as a client reads them: CRLF, CR and LF are one line end.
std::string lf_only(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i] == '\r' ? '\n' : text[i];
  }
  return out;
}

// Every piece size from one byte to the whole stream gives the same events
// (the bytes differ only where a read splits a CRLF that ends an event).
std::string rewrite_every_split(const std::string& input, size_t cap = 4 << 20) {
  const std::string whole = rewrite(input, 0, cap);
  for (size_t step = 1; step <= input.size(); ++step) {
    INFO("piece size " << step);
    CHECK(lf_only(rewrite(input, step, cap)) == lf_only(whole));
  }
  return whole;
}

std::vector<std::string> split_events(const std::string& input, size_t step) {
  std::vector<std::string> events;
  SseEventSplitter splitter(1 << 20);
  for (size_t i = 0; i < input.size(); i += step) {
    splitter.feed(
        std::string_view(input).substr(i, step),
        [&](std::string_view e) { events.emplace_back(e); },
        [] { FAIL("no event is oversized here"); });
  }
  const std::string rest = splitter.take_pending();
  if (!rest.empty()) events.push_back("PENDING:" + rest);
  return events;
}

}  // namespace

TEST_CASE("tools_list_filter: JSON tools/list result loses the refused tools") {
  auto out = filter_tools_list_json(kList, {"1"}, only_add);
  CHECK(out.outcome == Outcome::kRewritten);
  CHECK(out.text == kFiltered);
  CHECK(out.answered == std::vector<std::string>{"1"});
}

TEST_CASE("tools_list_filter: other ids and nothing-to-remove are read and stay unchanged") {
  CHECK(filter_tools_list_json(kList, {"2"}, only_add).outcome == Outcome::kUnchanged);
  CHECK(filter_tools_list_json(kList, {}, only_add).outcome == Outcome::kUnchanged);
  auto all = filter_tools_list_json(kList, {"1"}, [](const std::string&) { return true; });
  CHECK(all.outcome == Outcome::kUnchanged);
  CHECK(all.answered == std::vector<std::string>{"1"});
  CHECK(
      filter_tools_list_json(R"({"jsonrpc":"2.0","id":1,"result":{}})", {"1"}, only_add).outcome ==
      Outcome::kUnchanged);
  // A string id "1" is not the number 1, either way round.
  CHECK(filter_tools_list_json(kList, {R"("1")"}, only_add).outcome == Outcome::kUnchanged);
  CHECK(filter_tools_list_json(list_response(R"("1")"), {"1"}, only_add).outcome ==
        Outcome::kUnchanged);
}

TEST_CASE("tools_list_filter: numeric ids match by value, string ids exactly (MCP-16)") {
  for (const std::string response_id : {"1.0", "1e0", "10E-1", "1.00", "0.1e1"}) {
    INFO("response id " << response_id);
    auto out = filter_tools_list_json(list_response(response_id), {"1"}, only_add);
    CHECK(out.outcome == Outcome::kRewritten);
    CHECK(out.answered == std::vector<std::string>{"1"});
    CHECK(out.text.find(R"({"name":"rm"})") == std::string::npos);
  }
  CHECK(filter_tools_list_json(kList, {"1.0"}, only_add).outcome == Outcome::kRewritten);
  CHECK(filter_tools_list_json(kList, {"1e0"}, only_add).outcome == Outcome::kRewritten);
  CHECK(filter_tools_list_json(list_response(R"("a")"), {R"("a")"}, only_add).outcome ==
        Outcome::kRewritten);
  CHECK(filter_tools_list_json(list_response(R"("\u0061")"), {R"("a")"}, only_add).outcome ==
        Outcome::kRewritten);
  CHECK(filter_tools_list_json(list_response(R"("A")"), {R"("a")"}, only_add).outcome ==
        Outcome::kUnchanged);
  CHECK(filter_tools_list_json(list_response("2"), {"1"}, only_add).outcome == Outcome::kUnchanged);
}

TEST_CASE(
    "tools_list_filter: a body the filter cannot read is unfilterable, never unchanged (MCP-17)") {
  const std::vector<std::string> hostile = {
      "not json",
      "",
      "   ",
      "\xEF\xBB\xBF" + kList,                                                      // BOM
      std::string(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":)") +  // duplicate key
          R"({"tools":[{"name":"rm"}]}})",
      R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"}],"tools":[]}})",
      R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm","name":"add"}]}})",
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"a\xff\"}]}}",  // bad UTF-8
      R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"\ud800"}]}})",       // lone surrogate
      R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"add\u0000rm"}]}})",  // NUL
      kList + "garbage",
      kList + kList,
      "\"a string\"",
      "1",
      kList.substr(0, kList.size() - 1),  // truncated
  };
  for (const auto& body : hostile) {
    INFO("body: " << body);
    CHECK(filter_tools_list_json(body, {"1"}, only_add).outcome == Outcome::kUnfilterable);
  }
}

TEST_CASE("tools_list_filter: batch responses are filtered element by element") {
  const std::string batch = "[" + kList +
                            R"(,{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"rm"}]}},)" +
                            list_response(R"("x")") + "]";
  auto out = filter_tools_list_json(batch, {"1", R"("x")"}, only_add);
  REQUIRE(out.outcome == Outcome::kRewritten);
  CHECK(out.text == "[" + kFiltered +
                        R"(,{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"rm"}]}},)" +
                        R"({"jsonrpc":"2.0","id":"x","result":{"tools":[{"name":"add"}]}}])");
  CHECK(out.answered == std::vector<std::string>{"1", R"("x")"});
}

TEST_CASE("tools_list_filter: error responses for the pending ids") {
  CHECK(tools_list_error_json({"1"}) == kErrorFor1);
  CHECK(
      tools_list_error_json({"1", R"("b")"}) ==
      "[" + kErrorFor1 +
          R"(,{"jsonrpc":"2.0","id":"b","error":{"code":-32603,"message":"tools/list response could not be filtered"}}])");
}

TEST_CASE("tools_list_filter: the SSE splitter, every line ending, every split position") {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    const std::string stream = "id: 1" + eol + "data: a" + eol + eol + ": comment" + eol + eol +
                               "data: b" + eol + "data: c" + eol + eol;
    for (size_t step = 1; step <= stream.size(); ++step) {
      INFO("eol " << (eol == "\r" ? "CR" : eol == "\n" ? "LF" : "CRLF") << " piece " << step);
      const auto events = split_events(stream, step);
      REQUIRE(events.size() == 3);
      CHECK(lf_only(events[0]) == "id: 1\ndata: a\n\n");
      CHECK(lf_only(events[1]) == ": comment\n\n");
      CHECK(lf_only(events[2]) == "data: b\ndata: c\n\n");
      if (step == stream.size()) CHECK(events[0] + events[1] + events[2] == stream);
    }
  }
}

TEST_CASE("tools_list_filter: the splitter with mixed line endings and a final CR") {
  const std::string stream = "data: a\r\ndata: b\rdata: c\n\r\n\ndata: d\r\r";
  for (size_t step = 1; step <= stream.size(); ++step) {
    INFO("piece " << step);
    auto events = split_events(stream, step);
    REQUIRE(events.size() == 3);
    CHECK(lf_only(events[0]) == "data: a\ndata: b\ndata: c\n\n");
    CHECK(events[1] == "\n");           // a blank line between events goes on alone
    CHECK(events[2] == "data: d\r\r");  // complete at once: no wait for an LF
  }
}

TEST_CASE("tools_list_filter: the splitter separates one leading BOM, only at stream start") {
  const std::string bom = "\xEF\xBB\xBF";
  for (size_t step = 1; step <= 4; ++step) {
    const auto events = split_events(bom + "data: a\n\n" + bom + "data: b\n\n", step);
    REQUIRE(events.size() == 3);
    CHECK(events[0] == bom);
    CHECK(events[1] == "data: a\n\n");
    CHECK(events[2] == bom + "data: b\n\n");
  }
  // The BOM check looks at three bytes; a CRLF across them is still one
  // line end when it came in one read.
  const std::string crlf_at_start = "a\n\r\ndata: b\n\n";
  CHECK(split_events(crlf_at_start, crlf_at_start.size()) ==
        std::vector<std::string>{"a\n\r\n", "data: b\n\n"});
  // A prefix of a BOM that is not one is data.
  CHECK(split_events("\xEF\xBB"
                     "data: x\n\n",
                     1) == std::vector<std::string>{"\xEF\xBB"
                                                    "data: x\n\n"});
  CHECK(split_events("\xEF", 1) == std::vector<std::string>{"PENDING:\xEF"});
}

TEST_CASE(
    "tools_list_filter: an oversized event is dropped up to its end, then splitting goes on") {
  SseEventSplitter splitter(16);
  std::vector<std::string> events;
  int oversized = 0;
  const std::string input = "data: " + std::string(32, 'x') + "\ndata: y\n\ndata: z\n\n";
  for (char c : input) {
    splitter.feed(
        std::string_view(&c, 1), [&](std::string_view e) { events.emplace_back(e); },
        [&] { ++oversized; });
  }
  CHECK(oversized == 1);
  CHECK(events == std::vector<std::string>{"data: z\n\n"});
  CHECK(splitter.take_pending().empty());
}

TEST_CASE("tools_list_filter: an SSE event keeps its other fields; data forms") {
  const std::string event = "event: message\nid: 42\n: note\ndata: " + kList + "\n\n";
  auto out = filter_tools_list_event(event, {"1"}, only_add);
  REQUIRE(out.outcome == Outcome::kRewritten);
  CHECK(out.text == "event: message\nid: 42\n: note\ndata: " + kFiltered + "\n\n");
  // `data` without a colon is an empty data line (a newline in the JSON).
  auto no_colon = filter_tools_list_event("data\ndata:" + kList + "\n\n", {"1"}, only_add);
  CHECK(no_colon.outcome == Outcome::kRewritten);
  CHECK(no_colon.text == "data: " + kFiltered + "\n\n");
  // No data, empty data, whitespace-only data: nothing a client can read.
  for (const std::string quiet : {": ping\n\n", "id: 3\ndata:\n\n", "data: \n\n", "data\n\n",
                                  "retry: 10\n\n", "data:  \t\ndata:\n\n"}) {
    CHECK(filter_tools_list_event(quiet, {"1"}, only_add).outcome == Outcome::kUnchanged);
  }
  // Field names are case-sensitive: a client ignores `Data:` too.
  CHECK(filter_tools_list_event("Data: " + kList + "\n\n", {"1"}, only_add).outcome ==
        Outcome::kUnchanged);
  CHECK(filter_tools_list_event("data: {not json\n\n", {"1"}, only_add).outcome ==
        Outcome::kUnfilterable);
}

TEST_CASE("tools_list_filter: the SSE rewriter rewrites only the tools/list event, any split") {
  const std::string before =
      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
  // A multi-line data field: JSON split over two data lines.
  const std::string list_event =
      "id: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\n"
      "data: \"result\":{\"tools\":[{\"name\":\"rm\"},{\"name\":\"add\"}]}}\r\n\r\n";
  const std::string after = "data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n\n";
  const std::string input = before + list_event + after;
  CHECK(rewrite_every_split(input) == before + "id: 7\ndata: " + kFiltered + "\n\n" + after);
  // The first event goes out as soon as it is complete, unchanged.
  SseToolsListRewriter rewriter({"1"}, only_add);
  std::string out;
  rewriter.feed(before, &out);
  CHECK(out == before);
}

TEST_CASE("tools_list_filter: SSE line endings CR, LF, CRLF and mixed all get filtered (MCP-12)") {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    INFO("eol size " << eol.size() << " first " << int(eol[0]));
    const std::string input = ": hi" + eol + eol + "data: " + kList + eol + eol;
    CHECK(rewrite_every_split(input) == ": hi" + eol + eol + "data: " + kFiltered + "\n\n");
  }
  const std::string mixed = "id: 1\r\ndata: " + kList + "\r\n";
  CHECK(rewrite_every_split(mixed + "\r") == "id: 1\ndata: " + kFiltered + "\n\n");
  CHECK(rewrite_every_split(mixed + "\n") == "id: 1\ndata: " + kFiltered + "\n\n");
}

TEST_CASE("tools_list_filter: an event ended by a CR at end of stream is filtered (MCP-13)") {
  const std::string input = "data: " + kList + "\r\r";
  CHECK(rewrite_every_split(input) == "data: " + kFiltered + "\n\n");
  // The LF that may follow in a later read is the rest of a CRLF: dropped.
  CHECK(rewrite(input + "\n", 1) == "data: " + kFiltered + "\n\n");
}

TEST_CASE("tools_list_filter: an incomplete last event is filtered as if complete or refused") {
  CHECK(rewrite_every_split("data: " + kList) == "data: " + kFiltered + "\n\n");
  CHECK(rewrite_every_split("data: " + kList + "\n") == "data: " + kFiltered + "\n\n");
  // Unreadable: an error for the pending id instead, never the raw bytes.
  CHECK(rewrite_every_split("data: " + kList.substr(0, 30)) == kErrorEventFor1);
  // Read and nothing to change: as it is.
  CHECK(rewrite_every_split(": tail") == ": tail");
}

TEST_CASE("tools_list_filter: a BOM at stream start does not hide the first event (MCP-14)") {
  const std::string bom = "\xEF\xBB\xBF";
  CHECK(rewrite_every_split(bom + "data: " + kList + "\n\n") ==
        bom + "data: " + kFiltered + "\n\n");
  // A second BOM is part of the field name, for a client as for the filter:
  // the stream goes on with both BOMs, so the client strips only the first.
  const std::string twice = bom + bom + "data: " + kList + "\n\n";
  CHECK(rewrite_every_split(twice) == twice);
}

TEST_CASE(
    "tools_list_filter: an unreadable event becomes an error for the pending ids only (MCP-17)") {
  const std::string bad = "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"id\":1}\n\n";
  CHECK(rewrite_every_split(bad) == kErrorEventFor1);
  // Once answered (by the error), further unreadable events are dropped.
  CHECK(rewrite_every_split(bad + bad + "data: " + kList + "\n\n") ==
        kErrorEventFor1 + "data: " + kFiltered + "\n\n");
  // Answered by the real response first: a later unreadable event is dropped.
  CHECK(rewrite_every_split("data: " + kList + "\n\n" + bad) == "data: " + kFiltered + "\n\n");
}

TEST_CASE(
    "tools_list_filter: an event over the cap becomes an error and its bytes are dropped "
    "(MCP-15)") {
  const std::string big =
      "data: " + list_response("1").substr(0, 40) + std::string(100, ' ') + "\ndata: more\n\n";
  const std::string next = "data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n";
  CHECK(rewrite_every_split(big + next, 64) == kErrorEventFor1 + next);
  // Still over the cap at end of stream, without its blank line.
  CHECK(rewrite_every_split(big.substr(0, 120), 64) == kErrorEventFor1);
}

TEST_CASE("tools_list_filter: a batch in one SSE event") {
  const std::string batch = "[" + list_response("1") + "," + list_response("2") + "]";
  SseToolsListRewriter rewriter({"1", "2"}, only_add);
  std::string out;
  rewriter.feed("data: " + batch + "\n\n", &out);
  CHECK(out == "data: [" + kFiltered + "," +
                   R"({"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"add"}]}}])" + "\n\n");
}

TEST_CASE("sse_event_splitter: an event's data, by the WHATWG field rules") {
  using mag::mcp::sse_event_data;
  CHECK(sse_event_data("data: {\"a\":1}\n\n") == "{\"a\":1}");
  CHECK(sse_event_data("event: message\r\nid: 3\r\ndata:x\r\ndata:  y\r\n\r\n") == "x\n y");
  CHECK(sse_event_data(": comment\rdata\r\r") == "");
  CHECK(sse_event_data("dataset: no\ndata: yes\n\n") == "yes");
  CHECK(sse_event_data("event: ping\n\n").empty());
  CHECK(mag::mcp::sse_event_lines("a\r\nb\rc\n") == std::vector<std::string_view>{"a", "b", "c"});
}
