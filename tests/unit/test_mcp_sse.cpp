// SSE event formatting used by the MCP endpoint.
#include <doctest/doctest.h>

#include "backend/mcp_endpoint.h"

TEST_CASE("mcp_sse: one event with event, id and data lines") {
  CHECK(mag::backend::sse_event("message", "7", R"({"a":1})") ==
        "event: message\nid: 7\ndata: {\"a\":1}\n\n");
}

TEST_CASE("mcp_sse: multi-line data becomes several data lines") {
  CHECK(mag::backend::sse_event("", "", "a\nb") == "data: a\ndata: b\n\n");
}
