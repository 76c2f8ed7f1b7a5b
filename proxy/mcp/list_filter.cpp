#include "proxy/mcp/list_filter.h"

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
  explicit IdMatcher(const std::vector<ListRequest>& requests) : requests_(requests) {
    for (const auto& request : requests) parsed_.push_back(parse_id(request.id));
  }
  // The requests `message` answers (one id may have been used twice).
  std::vector<const ListRequest*> match(json_t* message) const {
    std::vector<const ListRequest*> found;
    json_t* id = json_object_get(message, "id");
    if (!id) return found;
    for (size_t i = 0; i < parsed_.size(); ++i) {
      if (parsed_[i] && same_id(parsed_[i].get(), id)) found.push_back(&requests_[i]);
    }
    return found;
  }

 private:
  const std::vector<ListRequest>& requests_;
  std::vector<JsonPtr> parsed_;
};

enum class Filtered { kKept, kChanged, kUnreadable };

json_t* member(json_t* object, std::string_view name) {
  return json_object_getn(object, name.data(), name.size());
}

// Removes from one response the entries of a `kind` list that `allowed`
// refuses or that have no string key. A result that is not an object, or a
// list member that is not an array, is a shape no client reads as a list:
// unreadable rather than passed on.
Filtered filter_entries(json_t* message, ListKind kind, const ListEntryPredicate& allowed) {
  json_t* result = json_object_get(message, "result");
  if (!result) return Filtered::kKept;  // an error response
  if (!json_is_object(result)) return Filtered::kUnreadable;
  const ListShape& shape = list_shape(kind);
  json_t* entries = member(result, shape.member);
  if (!entries) return Filtered::kKept;
  if (!json_is_array(entries)) return Filtered::kUnreadable;
  Filtered outcome = Filtered::kKept;
  for (size_t i = json_array_size(entries); i-- > 0;) {
    json_t* key = member(json_array_get(entries, i), shape.key);
    const bool keep = json_is_string(key) &&
                      allowed(kind, std::string(json_string_value(key), json_string_length(key)));
    if (!keep) {
      json_array_remove(entries, i);
      outcome = Filtered::kChanged;
    }
  }
  return outcome;
}

Filtered filter_message(json_t* message, const IdMatcher& ids, const ListEntryPredicate& allowed,
                        std::vector<std::string>* answered) {
  if (!json_is_object(message)) return Filtered::kKept;
  Filtered outcome = Filtered::kKept;
  for (const ListRequest* request : ids.match(message)) {
    answered->push_back(request->id);
    const Filtered one = filter_entries(message, request->kind, allowed);
    if (one == Filtered::kUnreadable) return one;
    if (one == Filtered::kChanged) outcome = one;
  }
  return outcome;
}

bool only_json_whitespace(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

JsonPtr error_response(const ListRequest& request) {
  JsonPtr parsed = parse_id(request.id);
  if (!parsed) parsed.reset(json_null());
  const std::string message =
      std::string(list_shape(request.kind).method) + " response could not be filtered";
  return JsonPtr(json_pack("{s:s,s:O,s:{s:i,s:s%}}", "jsonrpc", "2.0", "id", parsed.get(), "error",
                           "code", kUnfilterableCode, "message", message.data(), message.size()));
}

}  // namespace

ListFiltered filter_list_json(std::string_view json, const std::vector<ListRequest>& requests,
                              const ListEntryPredicate& allowed) {
  ListFiltered result;
  if (requests.empty()) return result;
  json_error_t error;
  JsonPtr doc(json_loadb(json.data(), json.size(), JSON_REJECT_DUPLICATES, &error));
  if (!doc) {
    result.outcome = ListFiltered::Outcome::kUnfilterable;
    return result;
  }
  const IdMatcher ids(requests);
  std::vector<json_t*> messages;
  if (json_is_array(doc.get())) {
    for (size_t i = 0; i < json_array_size(doc.get()); ++i) {
      messages.push_back(json_array_get(doc.get(), i));
    }
  } else {
    messages.push_back(doc.get());
  }
  bool changed = false;
  for (json_t* message : messages) {
    const Filtered one = filter_message(message, ids, allowed, &result.answered);
    if (one == Filtered::kUnreadable) {
      // Nothing of this input is forwarded: no request is answered by it.
      result.answered.clear();
      result.outcome = ListFiltered::Outcome::kUnfilterable;
      return result;
    }
    changed |= one == Filtered::kChanged;
  }
  if (changed) {
    result.outcome = ListFiltered::Outcome::kRewritten;
    result.text = dump_compact(doc.get());
  }
  return result;
}

ListFiltered filter_list_event(std::string_view raw_event, const std::vector<ListRequest>& requests,
                               const ListEntryPredicate& allowed) {
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
  ListFiltered result = filter_list_json(data, requests, allowed);
  if (result.outcome != ListFiltered::Outcome::kRewritten) return result;
  std::string out;
  for (std::string_view field : other_fields) {
    out.append(field);
    out += '\n';
  }
  out += "data: " + result.text + "\n\n";  // compact JSON has no newline
  result.text = std::move(out);
  return result;
}

std::string list_error_json(const std::vector<ListRequest>& requests) {
  if (requests.size() == 1) return dump_compact(error_response(requests.front()).get());
  JsonPtr batch(json_array());
  for (const auto& request : requests) {
    json_array_append_new(batch.get(), error_response(request).release());
  }
  return dump_compact(batch.get());
}

std::string list_error_events(const std::vector<ListRequest>& requests) {
  std::string out;
  for (const auto& request : requests) {
    out += "event: message\ndata: " + dump_compact(error_response(request).get()) + "\n\n";
  }
  return out;
}

}  // namespace mag::mcp
