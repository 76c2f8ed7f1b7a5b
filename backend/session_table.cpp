#include "backend/session_table.h"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace mag::backend {

SessionTable::SessionTable(size_t max_sessions, std::chrono::seconds idle_timeout, Now now)
    : max_sessions_(max_sessions), idle_timeout_(idle_timeout), now_(std::move(now)) {
  if (!now_) now_ = [] { return Clock::now(); };
}

std::string SessionTable::random_id() {
  std::array<unsigned char, 16> bytes{};
  // Without randomness there are no unguessable session ids: refuse to go on.
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

std::optional<std::string> SessionTable::create(std::string protocol_version) {
  if (sessions_.size() >= max_sessions_) expire_idle();
  if (sessions_.size() >= max_sessions_) return std::nullopt;
  std::string id = random_id();
  while (sessions_.count(id)) id = random_id();  // 2^-128; cheap to be sure
  Session session;
  session.protocol_version = std::move(protocol_version);
  session.last_used = now_();
  sessions_.emplace(id, std::move(session));
  return id;
}

SessionTable::Session* SessionTable::touch(std::string_view id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  it->second.last_used = now_();
  return &it->second;
}

void SessionTable::end_session(Map::iterator it) {
  // Erase first, call after: the callback may re-enter this table.
  std::function<void()> end_stream = std::move(it->second.end_stream);
  sessions_.erase(it);
  if (end_stream) end_stream();
}

bool SessionTable::end(std::string_view id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  end_session(it);
  return true;
}

size_t SessionTable::expire_idle() {
  const auto now = now_();
  std::vector<std::string> idle;
  for (const auto& [id, session] : sessions_) {
    if (!session.stream_open && now - session.last_used > idle_timeout_) idle.push_back(id);
  }
  for (const auto& id : idle) end(id);
  return idle.size();
}

}  // namespace mag::backend
