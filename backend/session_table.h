// MCP sessions of one server: created by initialize, ended by DELETE or by
// idle expiry, bounded in number. Ids are 128 random bits from OpenSSL as 32
// lowercase hex characters (visible ASCII, as the transport spec requires).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mag::backend {

class SessionTable {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  struct Session {
    std::string protocol_version;  // negotiated at initialize
    Clock::time_point last_used;
    // A standalone GET stream is open; the callback ends it when the session ends.
    bool stream_open = false;
    std::function<void()> end_stream;
  };

  SessionTable(size_t max_sessions, std::chrono::seconds idle_timeout, Now now = {});

  // New session id, or nullopt when the table is full even after expiring
  // idle sessions (the caller answers 503).
  std::optional<std::string> create(std::string protocol_version);
  // The session, with its idle timer restarted; nullptr when unknown/ended.
  Session* touch(std::string_view id);
  // Ends a session (and its stream). False when it did not exist.
  bool end(std::string_view id);
  // Ends every session idle for longer than the timeout. A session with an
  // open stream is in use and never idle.
  size_t expire_idle();
  size_t size() const { return sessions_.size(); }

 private:
  // Transparent hashing: a lookup by the request header's view allocates no key.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const noexcept {
      return std::hash<std::string_view>{}(id);
    }
  };
  using Map = std::unordered_map<std::string, Session, IdHash, std::equal_to<>>;

  static std::string random_id();
  void end_session(Map::iterator it);

  size_t max_sessions_;
  std::chrono::seconds idle_timeout_;
  Now now_;
  Map sessions_;
};

}  // namespace mag::backend
