// Bytes in, complete SSE events out, by the WHATWG event-stream grammar: a
// leading U+FEFF at stream start is not part of the first event (it is
// handed over alone, as a client strips it), lines end in CRLF, LF or CR
// (in any mix), an event ends at a blank line. Each event is handed over raw,
// terminator included, so an unchanged event can be forwarded byte for byte.
// An event whose last line ends in CR is handed over at once; if the next
// read starts with the LF of that CRLF, the LF is dropped (the same line end
// to a client), so nothing waits for a byte that may never come.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mag::mcp {

// The lines of one raw event (CRLF, LF or CR ends a line; the blank line
// that ends the event gives an empty last line or none).
std::vector<std::string_view> sse_event_lines(std::string_view raw_event);
// The event's data: its `data` fields' values joined by "\n" (WHATWG field
// parsing: one space after the colon is dropped). "" when it has none.
std::string sse_event_data(std::string_view raw_event);

class SseEventSplitter {
 public:
  using EventFn = std::function<void(std::string_view raw_event)>;
  using OversizedFn = std::function<void()>;

  explicit SseEventSplitter(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

  // Calls on_event for every event completed by `data` (and for every blank
  // line outside an event, alone). An event that grows past max_event_bytes
  // is dropped: on_oversized is called once, then its bytes up to and
  // including its blank line are discarded.
  void feed(std::string_view data, const EventFn& on_event, const OversizedFn& on_oversized);
  // End of stream: the bytes of the incomplete event (empty if none or if
  // it was being discarded). The splitter starts over.
  std::string take_pending();

 private:
  void scan(std::string_view data, const EventFn& on_event, const OversizedFn& on_oversized);
  void append(std::string_view bytes, const OversizedFn& on_oversized);

  size_t max_event_bytes_;
  std::string buffer_;             // the current event's bytes
  std::string stream_start_;       // a possible BOM prefix at stream start
  bool at_stream_start_ = true;    // the BOM check is not decided yet
  bool line_has_content_ = false;  // the current line has a byte
  bool skip_lf_ = false;           // a CR ended the last read: an LF next is its pair
  bool cr_ended_event_ = false;    // ... and that CR's line ended an event
  bool discarding_ = false;        // inside an oversized event
};

}  // namespace mag::mcp
