// The one HTTP model used in both directions (downstream server, upstream
// client): request/response heads and an ordered, case-insensitive header map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mag::http {

struct Header {
  std::string name;  // as received; compare with iequals()
  std::string value;
};

// ASCII case-insensitive equality of two strings of the same length.
bool iequals_same_size(const char* a, const char* b, size_t size);
// Inline so that the common case of a header scan, names of different
// lengths, costs a compare and no call (issue 9: ~260 calls per request).
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequals_same_size(a.data(), b.data(), a.size());
}

class HeaderMap {
 public:
  void add(std::string name, std::string value);
  // Replaces every field with this name by one field.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  // First field with this name, or nullptr.
  const std::string* get(std::string_view name) const;
  size_t count(std::string_view name) const;
  bool has(std::string_view name) const { return get(name) != nullptr; }
  // True when some comma-separated element of some field named `name` equals
  // `token` case-insensitively (e.g. Connection: keep-alive, Upgrade).
  bool has_token(std::string_view name, std::string_view token) const;

  const std::vector<Header>& fields() const { return fields_; }
  std::vector<Header>& fields() { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Header> fields_;
};

struct RequestHead {
  std::string method;  // "GET", "POST", ...
  std::string target;  // request-target as received (origin-form)
  std::string path;    // target without the query, not decoded
  std::string query;   // after '?', without it; empty if none
  int version_minor = 1;
  HeaderMap headers;
};

struct ResponseHead {
  int status = 200;
  std::string reason;  // empty: the standard reason phrase is used
  HeaderMap headers;
};

std::string_view reason_phrase(int status);

}  // namespace mag::http
