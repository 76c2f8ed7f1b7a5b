#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <string>

namespace mag::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
const char* name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }

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
