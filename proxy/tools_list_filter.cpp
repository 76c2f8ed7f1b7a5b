#include "proxy/tools_list_filter.h"

#include <jansson.h>

#include <algorithm>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"

namespace mag::mcp {
namespace {

std::string dump_compact(json_t* value) {
  return json::to_json_string(value, JSON_COMPACT | JSON_ENCODE_ANY).value_or("");
}

bool id_listed(json_t* message, const std::vector<std::string>& list_ids) {
  json_t* id = json_object_get(message, "id");
  if (!id) return false;
  const std::string key = dump_compact(id);
  return std::find(list_ids.begin(), list_ids.end(), key) != list_ids.end();
}

// Removes refused tools from one response object; true when it changed.
bool filter_response(json_t* message, const std::vector<std::string>& list_ids,
                     const ToolPredicate& allowed) {
  if (!json_is_object(message) || !id_listed(message, list_ids)) return false;
  json_t* tools = json_object_get(json_object_get(message, "result"), "tools");
  if (!json_is_array(tools)) return false;
  bool changed = false;
  for (size_t i = json_array_size(tools); i-- > 0;) {
    json_t* name = json_object_get(json_array_get(tools, i), "name");
    const bool keep = json_is_string(name) &&
                      allowed(std::string(json_string_value(name), json_string_length(name)));
    if (!keep) {
      json_array_remove(tools, i);
      changed = true;
    }
  }
  return changed;
}

// Splits a raw event into lines (without terminators).
std::vector<std::string_view> event_lines(std::string_view raw) {
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

}  // namespace

bool SseEventSplitter::feed(std::string_view data,
                            const std::function<void(std::string_view)>& on_event) {
  buffer_.append(data);
  size_t i = scan_;
  while (i < buffer_.size()) {
    const char c = buffer_[i];
    if (c != '\r' && c != '\n') {
      ++i;
      continue;
    }
    size_t line_end = i + 1;
    if (c == '\r') {
      // A CR at the end of what we have may be the first half of CRLF.
      if (line_end == buffer_.size()) break;
      if (buffer_[line_end] == '\n') ++line_end;
    }
    const bool empty_line = i == scan_;
    scan_ = line_end;
    i = line_end;
    if (empty_line && !line_was_empty_) {
      on_event(std::string_view(buffer_).substr(0, line_end));
      buffer_.erase(0, line_end);
      scan_ = 0;
      i = 0;
      line_was_empty_ = true;
      continue;
    }
    // Blank lines between events (or before the first) belong to no event:
    // they are passed on alone so the byte stream stays identical.
    if (empty_line) {
      on_event(std::string_view(buffer_).substr(0, line_end));
      buffer_.erase(0, line_end);
      scan_ = 0;
      i = 0;
      continue;
    }
    line_was_empty_ = false;
  }
  return buffer_.size() <= max_event_bytes_;
}

std::string SseEventSplitter::take_pending() {
  std::string out = std::move(buffer_);
  buffer_.clear();
  scan_ = 0;
  line_was_empty_ = true;
  return out;
}

std::optional<std::string> filter_tools_list_json(std::string_view json,
                                                  const std::vector<std::string>& list_ids,
                                                  const ToolPredicate& allowed) {
  if (list_ids.empty()) return std::nullopt;
  json_error_t error;
  JsonPtr doc(json_loadb(json.data(), json.size(), JSON_REJECT_DUPLICATES, &error));
  if (!doc) return std::nullopt;
  bool changed = false;
  if (json_is_array(doc.get())) {
    for (size_t i = 0; i < json_array_size(doc.get()); ++i) {
      changed |= filter_response(json_array_get(doc.get(), i), list_ids, allowed);
    }
  } else {
    changed = filter_response(doc.get(), list_ids, allowed);
  }
  if (!changed) return std::nullopt;
  return dump_compact(doc.get());
}

std::optional<std::string> filter_tools_list_event(std::string_view raw_event,
                                                   const std::vector<std::string>& list_ids,
                                                   const ToolPredicate& allowed) {
  std::string data;
  bool has_data = false;
  std::vector<std::string_view> other_fields;
  for (std::string_view line : event_lines(raw_event)) {
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (name != "data") {
      other_fields.push_back(line);
      continue;
    }
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (has_data) data += '\n';
    data.append(value);
    has_data = true;
  }
  if (!has_data) return std::nullopt;
  auto filtered = filter_tools_list_json(data, list_ids, allowed);
  if (!filtered) return std::nullopt;
  std::string out;
  for (std::string_view field : other_fields) {
    out.append(field);
    out += '\n';
  }
  out += "data: " + *filtered + "\n\n";  // compact JSON has no newline
  return out;
}

SseToolsListRewriter::SseToolsListRewriter(std::vector<std::string> list_ids, ToolPredicate allowed,
                                           size_t max_event_bytes)
    : list_ids_(std::move(list_ids)), allowed_(std::move(allowed)), splitter_(max_event_bytes) {}

void SseToolsListRewriter::feed(std::string_view data, std::string* out) {
  if (passthrough_) {
    out->append(data);
    return;
  }
  const bool within_cap = splitter_.feed(data, [&](std::string_view event) {
    if (auto rewritten = filter_tools_list_event(event, list_ids_, allowed_)) {
      out->append(*rewritten);
    } else {
      out->append(event);
    }
  });
  if (!within_cap) {
    passthrough_ = true;
    out->append(splitter_.take_pending());
  }
}

void SseToolsListRewriter::finish(std::string* out) {
  out->append(splitter_.take_pending());
}

}  // namespace mag::mcp
