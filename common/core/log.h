// Minimal leveled logging to stderr. Callers never pass tokens here.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace mag::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
void set_level(Level level);
Level level();
void write(Level level, std::string_view component, std::string_view message);

inline void debug(std::string_view c, std::string_view m) {
  write(Level::kDebug, c, m);
}
inline void info(std::string_view c, std::string_view m) {
  write(Level::kInfo, c, m);
}
inline void warn(std::string_view c, std::string_view m) {
  write(Level::kWarn, c, m);
}
inline void error(std::string_view c, std::string_view m) {
  write(Level::kError, c, m);
}

// For diagnostics that any client can trigger once per request (a rejected
// token, a refused Origin): a flood of them must not flood stderr / the
// journal. Per `key`, the first `burst` lines are written, then at most one
// per `interval` (log_rate_limiter.h); the rest are only counted, and the
// next line written for that key says "(suppressed N similar messages)".
// At debug level every line is written. `key` should come from a bounded
// set (component + outcome code + route), never from request data; at most
// 256 keys get their own budget, the others share one.
void limited(Level level, std::string_view key, std::string_view component,
             std::string_view message);
// The same with the line made only when it is written: for lines that cost
// work to build (the details of a refused token).
void limited(Level level, std::string_view key, std::string_view component,
             const std::function<std::string()>& message);
struct RateLimit {
  size_t burst = 10;
  std::chrono::milliseconds interval{10000};
};
void set_rate_limit(RateLimit limit);  // also forgets every key's state (tests)

// Replaces control characters and non-ASCII bytes with \xNN, and truncates,
// so values from the network are safe to log.
std::string sanitize(std::string_view untrusted, size_t max_len = 200);

}  // namespace mag::log
