#include "proxy/router/route_table.h"

#include <cctype>

namespace mag::proxy {
namespace {

bool encoded_is_dangerous(std::string_view path, size_t percent) {
  if (percent + 2 >= path.size()) return true;  // truncated escape
  const char hi = path[percent + 1];
  const char lo = static_cast<char>(std::tolower(static_cast<unsigned char>(path[percent + 2])));
  if (!std::isxdigit(static_cast<unsigned char>(hi)) ||
      !std::isxdigit(static_cast<unsigned char>(lo))) {
    return true;
  }
  // %2e '.', %2f '/', %5c '\', %00 NUL
  return (hi == '2' && (lo == 'e' || lo == 'f')) || (hi == '5' && lo == 'c') ||
         (hi == '0' && lo == '0');
}

}  // namespace

bool path_under_prefix(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/' || prefix.back() == '/';
}

bool path_is_canonical(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '\\') return false;
    if (c == '%' && encoded_is_dangerous(path, i)) return false;
    if (c == '/' && i + 1 < path.size() && path[i + 1] == '/') return false;
  }
  // Dot segments: "/." or "/.." as a whole segment.
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

const config::Route* find_route(const config::Config& config, std::string_view path) {
  return find_route(config.routes, path, [](const config::Route& route) -> const std::string& {
    return route.path_prefix;
  });
}

}  // namespace mag::proxy
