#include "proxy/router/path_rewrite.h"

namespace mag::proxy {

std::string rewrite_prefix(std::string_view path, std::string_view path_prefix,
                           const std::optional<std::string>& rewrite) {
  if (!rewrite) return std::string(path);
  // What follows the prefix: empty or starting with '/'. The root prefix
  // matches every path and leaves the whole of it.
  std::string_view rest = path_prefix == "/" ? path : path.substr(path_prefix.size());
  if (rest == "/" && path_prefix == "/") rest = {};
  if (*rewrite == "/") return rest.empty() ? std::string("/") : std::string(rest);
  std::string out;
  out.reserve(rewrite->size() + rest.size());
  out.append(*rewrite).append(rest);
  return out;
}

std::string upstream_path(const config::Route& route, const config::Upstream& upstream,
                          std::string_view path) {
  std::string rewritten = rewrite_prefix(path, route.path_prefix, route.prefix_rewrite);
  if (upstream.base_path.empty()) return rewritten;
  return upstream.base_path + rewritten;
}

}  // namespace mag::proxy
