#include <doctest/doctest.h>

#include <string_view>
#include <vector>

#include "proxy/mcp/sse_event_splitter.h"

TEST_CASE("sse_event_splitter: an event's data, by the WHATWG field rules") {
  using mag::mcp::sse_event_data;
  CHECK(sse_event_data("data: {\"a\":1}\n\n") == "{\"a\":1}");
  CHECK(sse_event_data("event: message\r\nid: 3\r\ndata:x\r\ndata:  y\r\n\r\n") == "x\n y");
  CHECK(sse_event_data(": comment\rdata\r\r") == "");
  CHECK(sse_event_data("dataset: no\ndata: yes\n\n") == "yes");
  CHECK(sse_event_data("event: ping\n\n").empty());
  CHECK(mag::mcp::sse_event_lines("a\r\nb\rc\n") == std::vector<std::string_view>{"a", "b", "c"});
}
