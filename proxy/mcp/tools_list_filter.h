// tools/list filtering: the gateway removes from tools/list results the tools
// the caller's token may not call, so a client never offers a tool that the
// gateway would refuse. Works on a whole JSON response body and on an SSE
// stream, event by event: an incremental splitter takes bytes as they come
// and yields complete events; only the events that carry a tools/list result
// are rewritten, every other byte passes unchanged. A stream is never held
// longer than one event.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mag::mcp {

// Bytes in, complete SSE events out (WHATWG: an event ends at a blank line;
// lines end in CRLF, LF or CR). Each event is handed over raw, terminator
// included, so unchanged events can be forwarded byte for byte.
class SseEventSplitter {
 public:
  explicit SseEventSplitter(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}
  // False when an incomplete event grows beyond max_event_bytes (the caller
  // stops filtering; nothing already handed out is affected).
  bool feed(std::string_view data, const std::function<void(std::string_view)>& on_event);
  // Bytes of the event still incomplete.
  const std::string& pending() const { return buffer_; }
  std::string take_pending();

 private:
  size_t max_event_bytes_;
  std::string buffer_;
  size_t scan_ = 0;             // where the next line starts in buffer_
  bool line_was_empty_ = true;  // at the start of an event, before any line
};

using ToolPredicate = std::function<bool(const std::string& tool_name)>;

// If `json` is a JSON-RPC response (or a batch of them) whose id is one of
// `list_ids` (ids serialised compactly, e.g. `1` or `"a"`), drops the
// result.tools entries `allowed` refuses and returns the new document.
// nullopt = not such a response, or nothing removed: forward unchanged.
std::optional<std::string> filter_tools_list_json(std::string_view json,
                                                  const std::vector<std::string>& list_ids,
                                                  const ToolPredicate& allowed);

// One SSE event (raw) rewritten when its data is such a response: fields
// other than data (id, event, retry, comments) are kept; the data becomes one
// line. nullopt = forward the event unchanged.
std::optional<std::string> filter_tools_list_event(std::string_view raw_event,
                                                   const std::vector<std::string>& list_ids,
                                                   const ToolPredicate& allowed);

// The streaming side: feed upstream bytes, get what to send downstream.
class SseToolsListRewriter {
 public:
  SseToolsListRewriter(std::vector<std::string> list_ids, ToolPredicate allowed,
                       size_t max_event_bytes = 4 << 20);
  // Appends to `out` every complete event (rewritten or not). An event
  // bigger than the cap makes the rewriter give up: the rest passes as is.
  void feed(std::string_view data, std::string* out);
  // End of stream: whatever incomplete event is left, unchanged.
  void finish(std::string* out);

 private:
  std::vector<std::string> list_ids_;
  ToolPredicate allowed_;
  SseEventSplitter splitter_;
  bool passthrough_ = false;
};

}  // namespace mag::mcp
