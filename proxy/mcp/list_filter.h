// List filtering: the gateway removes from tools/list, prompts/list,
// resources/list and resources/templates/list results the entries the
// caller's token may not use, so a client never offers a tool, prompt or
// resource that the gateway would refuse. It fails closed: a response it
// cannot read the way a client would (not JSON, duplicate keys, invalid
// UTF-8, a result or list of the wrong type, an SSE event over the size
// cap, a compressed body) is never forwarded as it is; it is replaced by a
// JSON-RPC error for the pending list ids.
//
// These functions work on one whole JSON body or one raw SSE event; the
// streaming side is SseListRewriter.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/mcp/list_kind.h"

namespace mag::mcp {

// May this token see the entry whose key (tool or prompt name, resource
// URI, URI template) is `key` in a `kind` list?
using ListEntryPredicate = std::function<bool(ListKind kind, const std::string& key)>;

// One list request of the client's body whose answer is filtered.
struct ListRequest {
  std::string id;  // compact JSON of the request's id (`1`, `"a"`)
  ListKind kind = ListKind::kTools;
};

struct ListFiltered {
  enum class Outcome {
    kUnchanged,     // forward the input as it is (read, and nothing to remove)
    kRewritten,     // forward `text` instead
    kUnfilterable,  // could not be read: forward an error instead
  };
  Outcome outcome = Outcome::kUnchanged;
  std::string text;
  // Which of the requests' ids (as given) had a response in the input;
  // none when kUnfilterable (nothing of the input is forwarded).
  std::vector<std::string> answered;
};

// The JSON-RPC error code sent instead of a response that cannot be
// filtered; the message is "<method> response could not be filtered".
inline constexpr int kUnfilterableCode = -32603;

// `json`: a JSON-RPC response or a batch of them. A response answers a
// request as a JSON-RPC client matches ids: numbers by value (`1` = `1.0` =
// `1e0`), strings exactly, never a string against a number. A matching
// response with a `result` must have an object there, and in it either no
// list member or an array; the array loses the entries `allowed` refuses
// and those without a string key. The body must be UTF-8 JSON without
// duplicate keys, NUL escapes or lone surrogates, else kUnfilterable.
ListFiltered filter_list_json(std::string_view json, const std::vector<ListRequest>& requests,
                              const ListEntryPredicate& allowed);

// One raw SSE event (WHATWG field parsing). An event without data, or whose
// data is only whitespace (no client can read a message from it), is
// kUnchanged; otherwise its data goes through filter_list_json. A
// rewritten event keeps its other fields (id, event, retry, comments) and
// its data becomes one line.
ListFiltered filter_list_event(std::string_view raw_event, const std::vector<ListRequest>& requests,
                               const ListEntryPredicate& allowed);

// The error response for each of `requests`: one object for one, an array
// for several.
std::string list_error_json(const std::vector<ListRequest>& requests);
// The same as SSE events, one per request.
std::string list_error_events(const std::vector<ListRequest>& requests);

}  // namespace mag::mcp
