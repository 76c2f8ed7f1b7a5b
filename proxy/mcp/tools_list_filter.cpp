#include "proxy/mcp/tools_list_filter.h"

#include <jansson.h>

#include <cstring>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"
#include "proxy/mcp/sse_event_splitter.h"

namespace mag::mcp {
namespace {

std::string dump_compact(json_t* value) {
  return json::to_json_string(value, JSON_COMPACT | JSON_ENCODE_ANY).value_or("");
}

JsonPtr parse_id(const std::string& id) {
  json_error_t error;
  return JsonPtr(json_loadb(id.data(), id.size(), JSON_DECODE_ANY, &error));
}

// Equality as a JSON-RPC client sees it (JavaScript `===` on parsed values).
bool same_id(json_t* a, json_t* b) {
  if (json_is_string(a) && json_is_string(b)) {
    return json_string_length(a) == json_string_length(b) &&
           std::memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  }
  if (json_is_number(a) && json_is_number(b)) {
    return json_number_value(a) == json_number_value(b);
  }
  return false;
}

class IdMatcher {
 public:
  explicit IdMatcher(const std::vector<std::string>& list_ids) : list_ids_(list_ids) {
    for (const auto& id : list_ids) parsed_.push_back(parse_id(id));
  }
  // The listed id `message` answers, or nullptr.
  const std::string* match(json_t* message) const {
    json_t* id = json_object_get(message, "id");
    if (!id) return nullptr;
    for (size_t i = 0; i < parsed_.size(); ++i) {
      if (parsed_[i] && same_id(parsed_[i].get(), id)) return &list_ids_[i];
    }
    return nullptr;
  }

 private:
  const std::vector<std::string>& list_ids_;
  std::vector<JsonPtr> parsed_;
};

// Removes refused tools from one response object; true when it changed.
bool filter_tools(json_t* message, const ToolPredicate& allowed) {
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

bool filter_message(json_t* message, const IdMatcher& ids, const ToolPredicate& allowed,
                    std::vector<std::string>* answered) {
  if (!json_is_object(message)) return false;
  const std::string* id = ids.match(message);
  if (!id) return false;
  answered->push_back(*id);
  return filter_tools(message, allowed);
}

// Splits a raw event into lines (without terminators).
bool only_json_whitespace(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

JsonPtr error_response(const std::string& id) {
  JsonPtr parsed = parse_id(id);
  if (!parsed) parsed.reset(json_null());
  return JsonPtr(json_pack("{s:s,s:O,s:{s:i,s:s%}}", "jsonrpc", "2.0", "id", parsed.get(), "error",
                           "code", kUnfilterableCode, "message", kUnfilterableMessage.data(),
                           kUnfilterableMessage.size()));
}

}  // namespace

ToolsListFiltered filter_tools_list_json(std::string_view json,
                                         const std::vector<std::string>& list_ids,
                                         const ToolPredicate& allowed) {
  ToolsListFiltered result;
  if (list_ids.empty()) return result;
  json_error_t error;
  JsonPtr doc(json_loadb(json.data(), json.size(), JSON_REJECT_DUPLICATES, &error));
  if (!doc) {
    result.outcome = ToolsListFiltered::Outcome::kUnfilterable;
    return result;
  }
  const IdMatcher ids(list_ids);
  bool changed = false;
  if (json_is_array(doc.get())) {
    for (size_t i = 0; i < json_array_size(doc.get()); ++i) {
      changed |= filter_message(json_array_get(doc.get(), i), ids, allowed, &result.answered);
    }
  } else {
    changed = filter_message(doc.get(), ids, allowed, &result.answered);
  }
  if (changed) {
    result.outcome = ToolsListFiltered::Outcome::kRewritten;
    result.text = dump_compact(doc.get());
  }
  return result;
}

ToolsListFiltered filter_tools_list_event(std::string_view raw_event,
                                          const std::vector<std::string>& list_ids,
                                          const ToolPredicate& allowed) {
  std::string data;
  bool has_data = false;
  std::vector<std::string_view> other_fields;
  for (std::string_view line : sse_event_lines(raw_event)) {
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (line.substr(0, colon) != "data") {
      other_fields.push_back(line);
      continue;
    }
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (has_data) data += '\n';
    data.append(value);
    has_data = true;
  }
  if (!has_data || only_json_whitespace(data)) return {};
  ToolsListFiltered result = filter_tools_list_json(data, list_ids, allowed);
  if (result.outcome != ToolsListFiltered::Outcome::kRewritten) return result;
  std::string out;
  for (std::string_view field : other_fields) {
    out.append(field);
    out += '\n';
  }
  out += "data: " + result.text + "\n\n";  // compact JSON has no newline
  result.text = std::move(out);
  return result;
}

std::string tools_list_error_json(const std::vector<std::string>& ids) {
  if (ids.size() == 1) return dump_compact(error_response(ids.front()).get());
  JsonPtr batch(json_array());
  for (const auto& id : ids) json_array_append_new(batch.get(), error_response(id).release());
  return dump_compact(batch.get());
}

std::string tools_list_error_events(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    out += "event: message\ndata: " + dump_compact(error_response(id).get()) + "\n\n";
  }
  return out;
}

}  // namespace mag::mcp
