#include "proxy/router/protected_resource_metadata.h"

#include <jansson.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"

namespace mag::proxy {
namespace {

void add_unique(std::vector<std::string>* list, const std::string& value) {
  if (std::find(list->begin(), list->end(), value) == list->end()) list->push_back(value);
}

// Builds a JSON array of strings; nullptr on failure. Values come from a
// validated config, but json_stringn also refuses invalid UTF-8.
JsonPtr string_array(const std::vector<std::string>& values) {
  JsonPtr array = json_own(json_array());
  if (!array) return nullptr;
  for (const auto& value : values) {
    if (json_array_append_new(array.get(), json_stringn(value.data(), value.size())) != 0) {
      return nullptr;
    }
  }
  return array;
}

bool set(json_t* object, const char* key, JsonPtr value) {
  return value && json_object_set_new(object, key, value.release()) == 0;
}

bool set_string(json_t* object, const char* key, const std::string& value) {
  return set(object, key, json_own(json_stringn(value.data(), value.size())));
}

std::string_view without_trailing_slash(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

JsonPtr build_document(const config::Route& route, const config::Config& config) {
  std::vector<std::string> issuers;
  for (const auto& name : route.auth.providers) {
    if (auto it = config.providers.find(name); it != config.providers.end()) {
      add_unique(&issuers, it->second.issuer);
    }
  }
  std::vector<std::string> scopes;
  for (const auto& scope : route.auth.scopes) add_unique(&scopes, scope);
  for (const auto& [tool, tool_scopes] : route.auth.tools) {
    for (const auto& scope : tool_scopes) add_unique(&scopes, scope);
  }

  JsonPtr doc = json_own(json_object());
  if (!doc || !set_string(doc.get(), "resource", route.resource)) return nullptr;
  if (!issuers.empty() && !set(doc.get(), "authorization_servers", string_array(issuers))) {
    return nullptr;
  }
  if (!scopes.empty() && !set(doc.get(), "scopes_supported", string_array(scopes))) {
    return nullptr;
  }
  if (!set(doc.get(), "bearer_methods_supported", string_array({"header"}))) return nullptr;
  if (!route.resource_name.empty() &&
      !set_string(doc.get(), "resource_name", route.resource_name)) {
    return nullptr;
  }
  return doc;
}

}  // namespace

std::string protected_resource_metadata_json(const config::Route& route,
                                             const config::Config& config) {
  JsonPtr doc = build_document(route, config);
  if (!doc) return "";
  return json::to_json_string(doc.get(), JSON_COMPACT | JSON_PRESERVE_ORDER).value_or("");
}

const config::Route* find_metadata_route(std::string_view path, const config::Config& config) {
  const std::string_view wanted = without_trailing_slash(path);
  for (const auto& route : config.routes) {
    if (route.auth.enabled && !route.metadata_path.empty() &&
        without_trailing_slash(route.metadata_path) == wanted) {
      return &route;
    }
  }
  if (wanted == kProtectedResourceMetadataRoot) {
    for (const auto& route : config.routes) {
      if (route.auth.enabled) return &route;
    }
  }
  return nullptr;
}

}  // namespace mag::proxy
