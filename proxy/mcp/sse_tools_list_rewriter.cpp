#include "proxy/mcp/sse_tools_list_rewriter.h"

#include <algorithm>

namespace mag::mcp {

SseToolsListRewriter::SseToolsListRewriter(std::vector<std::string> list_ids, ToolPredicate allowed,
                                           size_t max_event_bytes)
    : list_ids_(std::move(list_ids)),
      unanswered_(list_ids_),
      allowed_(std::move(allowed)),
      splitter_(max_event_bytes) {}

void SseToolsListRewriter::feed(std::string_view data, std::string* out) {
  splitter_.feed(
      data, [&](std::string_view event) { on_event(event, out); }, [&] { refuse(out); });
}

void SseToolsListRewriter::finish(std::string* out) {
  const std::string rest = splitter_.take_pending();
  if (!rest.empty()) on_event(rest, out);
}

void SseToolsListRewriter::on_event(std::string_view raw_event, std::string* out) {
  ToolsListFiltered filtered = filter_tools_list_event(raw_event, list_ids_, allowed_);
  for (const auto& id : filtered.answered) {
    unanswered_.erase(std::remove(unanswered_.begin(), unanswered_.end(), id), unanswered_.end());
  }
  switch (filtered.outcome) {
    case ToolsListFiltered::Outcome::kUnchanged:
      out->append(raw_event);
      return;
    case ToolsListFiltered::Outcome::kRewritten:
      out->append(filtered.text);
      return;
    case ToolsListFiltered::Outcome::kUnfilterable:
      refuse(out);
      return;
  }
}

void SseToolsListRewriter::refuse(std::string* out) {
  ++refused_events_;
  out->append(tools_list_error_events(unanswered_));
  unanswered_.clear();
}

}  // namespace mag::mcp
