// The exchanged tokens of one upstream, by SHA-256 of the subject token
// (the caller's token itself is never kept), and the AS's refusals of
// subject tokens (their reason), so that a refused caller does not reach
// the AS on every request: bounded, the least recently used entry goes
// first, an entry is used until its `fresh_until_ms`.
// Thread-safe: a lookup takes one lock, a hash lookup and copies the header.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mag::credentials {

class ExchangeCache {
 public:
  using Digest = std::array<unsigned char, 32>;
  static Digest digest(std::string_view subject_token);  // SHA-256, no allocation

  explicit ExchangeCache(size_t capacity);

  enum class Found { kNone, kToken, kRefusal };
  // A fresh entry (it becomes the most recently used): kToken fills `value`
  // with the header, kRefusal with the refusal's reason. An expired entry
  // is dropped.
  Found find(const Digest& key, int64_t now_ms, std::string* value);
  void insert(const Digest& key, std::string header, int64_t fresh_until_ms);
  void insert_refusal(const Digest& key, std::string reason, int64_t until_ms);
  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    Digest key;
    std::string value;  // the header, or the refusal's reason
    int64_t fresh_until_ms = 0;
    bool refusal = false;
  };
  struct DigestHash {
    size_t operator()(const Digest& key) const {
      size_t hash = 0;  // the digest is uniformly distributed already
      std::memcpy(&hash, key.data(), sizeof hash);
      return hash;
    }
  };
  using Entries = std::list<Entry>;
  void put(Entry entry);

  const size_t capacity_;
  mutable std::mutex mutex_;
  Entries entries_;  // most recently used first
  std::unordered_map<Digest, Entries::iterator, DigestHash> index_;
};

}  // namespace mag::credentials
