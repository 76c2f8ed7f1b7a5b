// List filtering on an SSE response, event by event: upstream bytes in,
// what to send downstream out. Events without a result for a pending list
// request pass byte for byte as soon as they are complete; nothing is held
// longer than one event. It fails closed: an event whose data cannot be
// read, or that grows past the size cap, never passes; the list requests
// still unanswered get a JSON-RPC error event instead (and the event is
// dropped).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/mcp/list_filter.h"
#include "proxy/mcp/sse_event_splitter.h"

namespace mag::mcp {

class SseListRewriter {
 public:
  SseListRewriter(std::vector<ListRequest> requests, ListEntryPredicate allowed,
                  size_t max_event_bytes = 4 << 20);
  // Appends to `out` every event `data` completes (rewritten or not).
  void feed(std::string_view data, std::string* out);
  // End of stream: an incomplete last event is filtered as if complete
  // (forwarded as it is only when it was read and nothing had to change).
  void finish(std::string* out);
  // Events replaced (unreadable or oversized) so far.
  size_t refused_events() const { return refused_events_; }

 private:
  void on_event(std::string_view raw_event, std::string* out);
  void refuse(std::string* out);

  std::vector<ListRequest> requests_;
  std::vector<ListRequest> unanswered_;
  ListEntryPredicate allowed_;
  SseEventSplitter splitter_;
  size_t refused_events_ = 0;
};

}  // namespace mag::mcp
