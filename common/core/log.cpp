#include "common/core/log.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <string>

namespace mag::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
const char* name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "?";
}
}  // namespace

void set_level(Level level) {
  g_level = level;
}
Level level() {
  return g_level;
}

void write(Level l, std::string_view component, std::string_view message) {
  if (l < g_level.load()) return;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &t);
  // One fprintf per line so lines from several threads do not interleave.
  fprintf(stderr, "%s.%03ldZ %s [%.*s] %.*s\n", when, ts.tv_nsec / 1000000, name(l),
          static_cast<int>(component.size()), component.data(), static_cast<int>(message.size()),
          message.data());
}

namespace {
struct KeyState {
  std::chrono::steady_clock::time_point window_start{};
  size_t written = 0;       // in the current window
  uint64_t suppressed = 0;  // since the last line written for this key
};
struct Limiter {
  std::mutex mutex;
  RateLimit limit;
  std::map<std::string, KeyState, std::less<>> keys;
};
Limiter& limiter() {
  static Limiter l;
  return l;
}
}  // namespace

void set_rate_limit(RateLimit limit) {
  Limiter& l = limiter();
  std::lock_guard lock(l.mutex);
  l.limit = limit;
  l.keys.clear();
}

void limited(Level level, std::string_view key, std::string_view component,
             std::string_view message) {
  if (level < g_level.load()) return;
  const auto now = std::chrono::steady_clock::now();
  uint64_t suppressed = 0;
  {
    Limiter& l = limiter();
    std::lock_guard lock(l.mutex);
    auto it = l.keys.find(key);
    if (it == l.keys.end()) it = l.keys.emplace(std::string(key), KeyState{now}).first;
    KeyState& state = it->second;
    if (now - state.window_start >= l.limit.interval) {
      state.window_start = now;
      state.written = 0;
    }
    if (state.written >= l.limit.burst) {
      ++state.suppressed;
      return;
    }
    ++state.written;
    suppressed = state.suppressed;
    state.suppressed = 0;
  }
  if (suppressed == 0) {
    write(level, component, message);
    return;
  }
  write(level, component,
        std::string(message) + " (suppressed " + std::to_string(suppressed) + " similar messages)");
}

std::string sanitize(std::string_view in, size_t max_len) {
  std::string out;
  for (unsigned char c : in) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace mag::log
