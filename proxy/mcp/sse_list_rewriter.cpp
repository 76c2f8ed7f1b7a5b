#include "proxy/mcp/sse_list_rewriter.h"

#include <algorithm>

namespace mag::mcp {

SseListRewriter::SseListRewriter(std::vector<ListRequest> requests, ListEntryPredicate allowed,
                                 size_t max_event_bytes)
    : requests_(std::move(requests)),
      unanswered_(requests_),
      allowed_(std::move(allowed)),
      splitter_(max_event_bytes) {}

void SseListRewriter::feed(std::string_view data, std::string* out) {
  splitter_.feed(
      data, [&](std::string_view event) { on_event(event, out); }, [&] { refuse(out); });
}

void SseListRewriter::finish(std::string* out) {
  const std::string rest = splitter_.take_pending();
  if (!rest.empty()) on_event(rest, out);
}

void SseListRewriter::on_event(std::string_view raw_event, std::string* out) {
  ListFiltered filtered = filter_list_event(raw_event, requests_, allowed_);
  for (const auto& id : filtered.answered) {
    std::erase_if(unanswered_, [&](const ListRequest& request) { return request.id == id; });
  }
  switch (filtered.outcome) {
    case ListFiltered::Outcome::kUnchanged:
      out->append(raw_event);
      return;
    case ListFiltered::Outcome::kRewritten:
      out->append(filtered.text);
      return;
    case ListFiltered::Outcome::kUnfilterable:
      refuse(out);
      return;
  }
}

void SseListRewriter::refuse(std::string* out) {
  ++refused_events_;
  out->append(list_error_events(unanswered_));
  unanswered_.clear();
}

}  // namespace mag::mcp
