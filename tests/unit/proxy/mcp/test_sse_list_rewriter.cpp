#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/mcp/list_filter.h"
#include "proxy/mcp/sse_list_rewriter.h"

using mag::mcp::ListKind;
using mag::mcp::ListRequest;
using mag::mcp::SseListRewriter;

namespace {

bool only_open(ListKind, const std::string& key) {
  return key == "open" || key.starts_with("demo://open/");
}

std::string rewrite(const std::vector<ListRequest>& requests, const std::string& input, size_t step,
                    size_t cap = 4 << 20) {
  SseListRewriter rewriter(requests, only_open, cap);
  std::string out;
  for (size_t i = 0; i < input.size(); i += step) {
    rewriter.feed(std::string_view(input).substr(i, step), &out);
  }
  rewriter.finish(&out);
  return out;
}

std::string error_event(const std::string& id, const std::string& method) {
  return R"(event: message
data: {"jsonrpc":"2.0","id":)" +
         id + R"(,"error":{"code":-32603,"message":")" + method +
         " response could not be filtered\"}}\n\n";
}

}  // namespace

TEST_CASE("sse_list_rewriter: prompts, resources and templates events are filtered, any split") {
  const std::string input =
      "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n"
      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"prompts\":"
      "[{\"name\":\"open\"},{\"name\":\"closed\"}]}}\r\n\r\n"
      "data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"resources\":"
      "[{\"uri\":\"demo://closed/1\"},\n"
      "data: {\"uri\":\"demo://open/1\"}]}}\r\r"
      "data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"resourceTemplates\":"
      "[{\"uriTemplate\":\"demo://open/{x}\"},{\"uriTemplate\":\"demo://{x}\"}]}}\n\n";
  const std::string expected =
      "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n"
      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"prompts\":"
      "[{\"name\":\"open\"}]}}\n\n"
      "data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"resources\":"
      "[{\"uri\":\"demo://open/1\"}]}}\n\n"
      "data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"resourceTemplates\":"
      "[{\"uriTemplate\":\"demo://open/{x}\"}]}}\n\n";
  const std::vector<ListRequest> requests = {
      {"1", ListKind::kPrompts}, {"2", ListKind::kResources}, {"3", ListKind::kResourceTemplates}};
  for (size_t step = 1; step <= input.size(); ++step) {
    INFO("piece size " << step);
    CHECK(rewrite(requests, input, step) == expected);
  }
}

TEST_CASE("sse_list_rewriter: MCP-22 an unreadable prompts or resources event becomes its error") {
  const std::vector<ListRequest> requests = {{"1", ListKind::kPrompts},
                                             {R"("r")", ListKind::kResources}};
  const std::string bad = "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"id\":1}\n\n";
  CHECK(rewrite(requests, bad, 1) ==
        error_event("1", "prompts/list") + error_event(R"("r")", "resources/list"));
  // After the prompts answer, only the resources request is still pending.
  const std::string prompts =
      "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"prompts\":[]}}\n\n";
  CHECK(rewrite(requests, prompts + bad, 7) == prompts + error_event(R"("r")", "resources/list"));
  // Oversized: the event's bytes are dropped, the pending requests get the error.
  const std::string big = "data: " + std::string(200, ' ') + "\n\n";
  CHECK(rewrite(requests, big + prompts, 3, 64) ==
        error_event("1", "prompts/list") + error_event(R"("r")", "resources/list") + prompts);
}

TEST_CASE("sse_list_rewriter: MCP-23 a wrongly shaped answer is an error for its own request") {
  // The answer to 1 reads as JSON but has a non-array list: 1 is not
  // answered by it, so the error names 1 (and 2, still pending).
  const std::vector<ListRequest> requests = {{"1", ListKind::kResourceTemplates},
                                             {"2", ListKind::kTools}};
  const std::string shaped =
      "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resourceTemplates\":{}}}\n\n";
  CHECK(rewrite(requests, shaped, 5) ==
        error_event("1", "resources/templates/list") + error_event("2", "tools/list"));
}
