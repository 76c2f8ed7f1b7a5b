// The one HTTP model used in both directions (downstream server, upstream
// client): request/response heads and an ordered, case-insensitive header map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mag::http {

// One field. Both views point into the HeaderMap's storage: valid until
// that map is changed by add()/set() (which may move its storage) or
// destroyed. remove() and moving the map keep them valid.
struct Header {
  std::string_view name;  // as received; compare with iequals()
  std::string_view value;
};

// ASCII case-insensitive equality of two strings of the same length.
bool iequals_same_size(const char* a, const char* b, size_t size);
// Inline so that the common case of a header scan, names of different
// lengths, costs a compare and no call (a proxied request makes
// ~260 of them).
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequals_same_size(a.data(), b.data(), a.size());
}

// `s` without leading and trailing optional whitespace (SP and HTAB, RFC 9110 §5.6.3).
std::string_view trim_ows(std::string_view s);

// Ordered fields, every name and value kept in one storage string per map
// rather than two std::strings per field (which would be most of the
// malloc/free of a proxied request). A removed field's bytes stay until the
// storage next grows, which compacts it.
class HeaderMap {
 public:
  HeaderMap() = default;
  HeaderMap(const HeaderMap& other);
  HeaderMap& operator=(const HeaderMap& other);
  HeaderMap(HeaderMap&& other) noexcept;
  HeaderMap& operator=(HeaderMap&& other) noexcept;
  ~HeaderMap() = default;

  // `name` and `value` may be views of this map's own fields (even removed
  // ones): bytes already in the storage are referenced, not copied.
  void add(std::string_view name, std::string_view value);
  // Replaces every field with this name by one field.
  void set(std::string_view name, std::string_view value);
  void remove(std::string_view name);
  // First field with this name, or nullptr. Valid until the map changes.
  // Most lookups are for names the message does not have: one bit test
  // answers those without scanning the fields.
  const std::string_view* get(std::string_view name) const {
    return (names_ & name_bit(name)) != 0 ? find(name) : nullptr;
  }
  size_t count(std::string_view name) const;
  bool has(std::string_view name) const { return get(name) != nullptr; }
  // True when some comma-separated element of some field named `name` equals
  // `token` case-insensitively (e.g. Connection: keep-alive, Upgrade).
  bool has_token(std::string_view name, std::string_view token) const;

  // Room for `fields` more fields and `bytes` more name/value bytes.
  void reserve(size_t fields, size_t bytes);
  // For a parser: `bytes` (a received head) becomes the storage of this
  // empty map, so fields added as views into storage() cost no copy.
  void adopt_storage(std::string bytes);
  std::string_view storage() const { return storage_; }

  const std::vector<Header>& fields() const { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  // One of 64 bits by a name's length and first letter, case-insensitive:
  // names equal under iequals() always get the same bit.
  static uint64_t name_bit(std::string_view name) {
    const unsigned first = name.empty() ? 0 : (static_cast<unsigned char>(name[0]) | 0x20);
    return uint64_t{1} << ((name.size() * 7 + first) & 63);
  }
  const std::string_view* find(std::string_view name) const;
  bool in_storage(std::string_view s) const;
  // Storage for `more` new bytes: a fresh string holding the live fields
  // (compacted) with room for `more` (twice the total unless `exact`); the
  // old one is returned so that views into it stay valid until the caller
  // has copied from them.
  std::string grow(size_t more, bool exact);
  std::string_view store(std::string_view s);
  void rebase(const char* old_base);

  std::vector<Header> fields_;
  std::string storage_;  // every non-empty view in fields_ points into it
  // name_bit() of every name added since the map was last emptied; remove()
  // leaves its bit (a false positive only costs a scan).
  uint64_t names_ = 0;
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
