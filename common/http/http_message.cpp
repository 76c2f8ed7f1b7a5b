#include "common/http/http_message.h"

#include <algorithm>
#include <functional>

namespace mag::http {

namespace {

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals_same_size(const char* a, const char* b, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

namespace {

// A grown storage is never short enough for the small-string buffer, so
// moving the map keeps its views where they are (rebase() covers a small
// adopted one).
constexpr size_t kMinStorage = 256;

size_t live_bytes(const std::vector<Header>& fields) {
  size_t n = 0;
  for (const auto& h : fields) n += h.name.size() + h.value.size();
  return n;
}

// Appends `s` to `to`, which has room for it (no reallocation).
std::string_view append_within(std::string& to, std::string_view s) {
  if (s.empty()) return {};
  const size_t at = to.size();
  to.append(s);
  return std::string_view(to.data() + at, s.size());
}

}  // namespace

HeaderMap::HeaderMap(const HeaderMap& other) : names_(other.names_) {
  reserve(other.fields_.size(), live_bytes(other.fields_));
  for (const auto& h : other.fields_) {
    fields_.push_back(Header{append_within(storage_, h.name), append_within(storage_, h.value)});
  }
}

HeaderMap& HeaderMap::operator=(const HeaderMap& other) {
  if (this != &other) *this = HeaderMap(other);
  return *this;
}

HeaderMap::HeaderMap(HeaderMap&& other) noexcept
    : fields_(std::move(other.fields_)), names_(other.names_) {
  const char* old_base = other.storage_.data();
  storage_ = std::move(other.storage_);
  rebase(old_base);
  other.fields_.clear();
  other.storage_.clear();
  other.names_ = 0;
}

HeaderMap& HeaderMap::operator=(HeaderMap&& other) noexcept {
  if (this == &other) return *this;
  const char* old_base = other.storage_.data();
  fields_ = std::move(other.fields_);
  storage_ = std::move(other.storage_);
  names_ = other.names_;
  rebase(old_base);
  other.fields_.clear();
  other.storage_.clear();
  other.names_ = 0;
  return *this;
}

// A moved small string copies its bytes: point the views at the copy.
void HeaderMap::rebase(const char* old_base) {
  if (storage_.data() == old_base) return;
  for (auto& h : fields_) {
    if (!h.name.empty()) h.name = {storage_.data() + (h.name.data() - old_base), h.name.size()};
    if (!h.value.empty()) h.value = {storage_.data() + (h.value.data() - old_base), h.value.size()};
  }
}

bool HeaderMap::in_storage(std::string_view s) const {
  // std::less: a total order even for pointers into different objects.
  const std::less<const char*> before;
  const char* begin = storage_.data();
  const char* end = begin + storage_.size();
  return !s.empty() && !before(s.data(), begin) && !before(end, s.data() + s.size());
}

std::string HeaderMap::grow(size_t more, bool exact) {
  const size_t live = live_bytes(fields_);
  std::string next;
  next.reserve(std::max(kMinStorage, (exact ? 1 : 2) * (live + more)));
  for (auto& h : fields_) {
    h.name = append_within(next, h.name);
    h.value = append_within(next, h.value);
  }
  storage_.swap(next);
  return next;
}

std::string_view HeaderMap::store(std::string_view s) {
  if (s.empty() || in_storage(s)) return s.empty() ? std::string_view() : s;
  return append_within(storage_, s);
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  const size_t copied =
      (in_storage(name) ? 0 : name.size()) + (in_storage(value) ? 0 : value.size());
  // `previous` keeps the old storage alive while name/value (which may be
  // views into it) are copied into the new one.
  std::string previous;
  if (storage_.capacity() - storage_.size() < copied)
    previous = grow(name.size() + value.size(), false);
  const std::string_view stored_name = store(name);
  const std::string_view stored_value = store(value);
  fields_.push_back(Header{stored_name, stored_value});
  names_ |= name_bit(name);
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  remove(name);  // leaves the bytes in place: name/value may be views of them
  add(name, value);
}

void HeaderMap::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Header& h) { return iequals(h.name, name); });
}

void HeaderMap::reserve(size_t fields, size_t bytes) {
  fields_.reserve(fields_.size() + fields);
  if (storage_.capacity() - storage_.size() < bytes) grow(bytes, true);
}

void HeaderMap::adopt_storage(std::string bytes) {
  fields_.clear();
  names_ = 0;
  storage_ = std::move(bytes);
}

const std::string_view* HeaderMap::find(std::string_view name) const {
  for (const auto& h : fields_) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

size_t HeaderMap::count(std::string_view name) const {
  if ((names_ & name_bit(name)) == 0) return 0;
  return static_cast<size_t>(std::count_if(fields_.begin(), fields_.end(),
                                           [&](const Header& h) { return iequals(h.name, name); }));
}

bool HeaderMap::has_token(std::string_view name, std::string_view token) const {
  if ((names_ & name_bit(name)) == 0) return false;
  for (const auto& h : fields_) {
    if (!iequals(h.name, name)) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view element = trim_ows(rest.substr(0, comma));
      if (iequals(element, token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      break;
  }
  if (status >= 100 && status < 200) return "Informational";
  if (status >= 200 && status < 300) return "Success";
  if (status >= 300 && status < 400) return "Redirection";
  if (status >= 400 && status < 500) return "Client Error";
  return "Server Error";
}

}  // namespace mag::http
