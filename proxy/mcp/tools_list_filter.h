// tools/list filtering: the gateway removes from tools/list results the tools
// the caller's token may not call, so a client never offers a tool that the
// gateway would refuse. It fails closed: a response it cannot read the way a
// client would (not JSON, duplicate keys, invalid UTF-8, an SSE event over
// the size cap, a compressed body) is never forwarded as it is; it is
// replaced by a JSON-RPC error for the pending tools/list ids.
//
// These functions work on one whole JSON body or one raw SSE event; the
// streaming side is SseToolsListRewriter.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mag::mcp {

using ToolPredicate = std::function<bool(const std::string& tool_name)>;

struct ToolsListFiltered {
  enum class Outcome {
    kUnchanged,     // forward the input as it is (read, and nothing to remove)
    kRewritten,     // forward `text` instead
    kUnfilterable,  // could not be read: forward an error instead
  };
  Outcome outcome = Outcome::kUnchanged;
  std::string text;
  // Which of the listed ids (as given) had a response in the input.
  std::vector<std::string> answered;
};

// The JSON-RPC error sent instead of a response that cannot be filtered.
inline constexpr int kUnfilterableCode = -32603;
inline constexpr std::string_view kUnfilterableMessage =
    "tools/list response could not be filtered";

// `json`: a JSON-RPC response or a batch of them. `list_ids`: the ids of the
// tools/list requests as compact JSON (`1`, `"a"`). A response matches an id
// as a JSON-RPC client matches it: numbers by value (`1` = `1.0` = `1e0`),
// strings exactly, never a string against a number. Matching responses lose
// the result.tools entries `allowed` refuses. The body must be UTF-8 JSON
// without duplicate keys, NUL escapes or lone surrogates, else kUnfilterable.
ToolsListFiltered filter_tools_list_json(std::string_view json,
                                         const std::vector<std::string>& list_ids,
                                         const ToolPredicate& allowed);

// One raw SSE event (WHATWG field parsing). An event without data, or whose
// data is only whitespace (no client can read a message from it), is
// kUnchanged; otherwise its data goes through filter_tools_list_json. A
// rewritten event keeps its other fields (id, event, retry, comments) and
// its data becomes one line.
ToolsListFiltered filter_tools_list_event(std::string_view raw_event,
                                          const std::vector<std::string>& list_ids,
                                          const ToolPredicate& allowed);

// The error response for each of `ids`: one object for one id, an array for
// several.
std::string tools_list_error_json(const std::vector<std::string>& ids);
// The same as SSE events, one per id.
std::string tools_list_error_events(const std::vector<std::string>& ids);

}  // namespace mag::mcp
