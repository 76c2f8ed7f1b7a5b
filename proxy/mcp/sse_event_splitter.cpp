#include "proxy/mcp/sse_event_splitter.h"

#include <algorithm>

namespace mag::mcp {

std::vector<std::string_view> sse_event_lines(std::string_view raw) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\r' && raw[i] != '\n') continue;
    lines.push_back(raw.substr(start, i - start));
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < raw.size()) lines.push_back(raw.substr(start));
  return lines;
}

std::string sse_event_data(std::string_view raw_event) {
  std::string data;
  bool has_data = false;
  for (std::string_view line : sse_event_lines(raw_event)) {
    const size_t colon = line.find(':');
    if (line.empty() || line.substr(0, colon) != "data") continue;
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (has_data) data += '\n';
    data.append(value);
    has_data = true;
  }
  return data;
}
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

}  // namespace

void SseEventSplitter::feed(std::string_view data, const EventFn& on_event,
                            const OversizedFn& on_oversized) {
  if (at_stream_start_) {
    const size_t take = std::min(data.size(), kByteOrderMark.size() - stream_start_.size());
    stream_start_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (stream_start_.size() < kByteOrderMark.size() && kByteOrderMark.starts_with(stream_start_)) {
      return;  // not decided yet: every byte so far is a BOM prefix
    }
    at_stream_start_ = false;
    std::string first = std::move(stream_start_);
    stream_start_.clear();
    if (first != kByteOrderMark) {
      // Scanned with the rest of this read, as one: a CRLF must not look
      // split where the read was not.
      first.append(data);
      scan(first, on_event, on_oversized);
      return;
    }
    // Passed on alone, not dropped: the client strips this one, so a
    // second BOM stays part of the first field name for it as for us.
    on_event(first);
  }
  scan(data, on_event, on_oversized);
}

void SseEventSplitter::append(std::string_view bytes, const OversizedFn& on_oversized) {
  if (discarding_) return;
  buffer_.append(bytes);
  if (buffer_.size() <= max_event_bytes_) return;
  buffer_.clear();
  discarding_ = true;
  on_oversized();
}

void SseEventSplitter::scan(std::string_view data, const EventFn& on_event,
                            const OversizedFn& on_oversized) {
  size_t pos = 0;
  if (skip_lf_ && !data.empty()) {
    skip_lf_ = false;
    if (data.front() == '\n') {
      // The second half of a CRLF whose CR ended the previous read: part of
      // the current event, or, when that CR ended an event (already handed
      // over, not held back for a byte that may never come), dropped: to a
      // client CR and CRLF end a line alike.
      pos = 1;
      if (!cr_ended_event_) append("\n", on_oversized);
    }
  }
  while (pos < data.size()) {
    const size_t eol = data.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos) {
      line_has_content_ = true;
      append(data.substr(pos), on_oversized);
      return;
    }
    if (eol > pos) line_has_content_ = true;
    size_t next = eol + 1;
    if (data[eol] == '\r') {
      if (next == data.size()) {
        skip_lf_ = true;
      } else if (data[next] == '\n') {
        ++next;
      }
    }
    append(data.substr(pos, next - pos), on_oversized);
    pos = next;
    cr_ended_event_ = false;
    if (line_has_content_) {
      line_has_content_ = false;
      continue;
    }
    // A blank line: the event is complete (or, outside an event, the blank
    // line goes on alone so the byte stream stays the same).
    if (discarding_) {
      discarding_ = false;
    } else {
      on_event(buffer_);
    }
    buffer_.clear();
    cr_ended_event_ = skip_lf_;
  }
}

std::string SseEventSplitter::take_pending() {
  std::string out = at_stream_start_ ? std::move(stream_start_) : std::string();
  if (!discarding_) out += buffer_;
  buffer_.clear();
  stream_start_.clear();
  at_stream_start_ = true;
  line_has_content_ = false;
  skip_lf_ = false;
  cr_ended_event_ = false;
  discarding_ = false;
  return out;
}

}  // namespace mag::mcp
