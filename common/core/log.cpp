#include "common/core/log.h"

#include "common/core/log_rate_limiter.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <ctime>
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
LogRateLimiter& limiter() {
  static LogRateLimiter l;
  return l;
}
}  // namespace

void set_rate_limit(RateLimit limit) {
  limiter().reset({.burst = limit.burst, .interval = limit.interval});
}

void limited(Level level, std::string_view key, std::string_view component,
             const std::function<std::string()>& message) {
  if (level < g_level.load()) return;
  // Debug logging is for diagnosis: every line is written.
  if (g_level.load() == Level::kDebug) {
    write(level, component, message());
    return;
  }
  const LogRateLimiter::Verdict verdict = limiter().admit(key, LogRateLimiter::Clock::now());
  if (!verdict.write) return;
  if (verdict.suppressed == 0) {
    write(level, component, message());
    return;
  }
  write(level, component,
        message() + " (suppressed " + std::to_string(verdict.suppressed) + " similar messages)");
}

void limited(Level level, std::string_view key, std::string_view component,
             std::string_view message) {
  limited(level, key, component, [message] { return std::string(message); });
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
