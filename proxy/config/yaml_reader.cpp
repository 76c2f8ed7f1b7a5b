#include "proxy/config/yaml_reader.h"

#include <algorithm>
#include <charconv>

#include "proxy/config/config.h"
#include "proxy/config/value_syntax.h"

namespace mag::config {
namespace {

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// RFC 6750 scope-token: %x21 / %x23-5B / %x5D-7E.
bool is_scope_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
  });
}

}  // namespace

std::map<std::string, Field> YamlReader::read_map(const YAML::Node& node,
                                                  const std::string& path) const {
  if (!node.IsMap()) fail(node, path, "expected a map, got " + kind(node));
  std::map<std::string, Field> fields;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) fail(key, path, "map keys must be plain strings");
    const std::string name = key.Scalar();
    const std::string key_path = path.empty() ? name : path + "." + name;
    auto [existing, inserted] = fields.emplace(name, Field{key, it->second});
    if (!inserted) {
      fail(key, key_path,
           "duplicate key (first defined at line " +
               std::to_string(existing->second.key.Mark().line + 1) + ")");
    }
  }
  return fields;
}

std::map<std::string, Field> YamlReader::read_map(
    const YAML::Node& node, const std::string& path,
    std::initializer_list<std::string_view> allowed) const {
  auto fields = read_map(node, path);
  for (const auto& [name, field] : fields) {
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string message = "unknown key '" + name + "'";
    std::string_view best;
    size_t best_distance = 3;  // only suggest near misses
    for (std::string_view candidate : allowed) {
      const size_t d = edit_distance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    if (!best.empty()) {
      message += " (did you mean '" + std::string(best) + "'?)";
    } else {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      message += " (expected one of: " + join(names, ", ") + ")";
    }
    fail(field.key, path, message);
  }
  return fields;
}

std::string YamlReader::string(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar()) fail(node, path, "expected a string, got " + kind(node));
  std::string expanded, error;
  if (!expand_env(node.Scalar(), &expanded, &error)) fail(node, path, error);
  return expanded;
}

std::string YamlReader::non_empty_string(const YAML::Node& node, const std::string& path) const {
  std::string value = string(node, path);
  if (value.empty()) fail(node, path, "must not be empty");
  return value;
}

void YamlReader::require_sequence(const YAML::Node& node, const std::string& path) const {
  if (!node.IsSequence()) fail(node, path, "expected a list, got " + kind(node));
}

std::vector<std::string> YamlReader::string_list(const YAML::Node& node,
                                                 const std::string& path) const {
  require_sequence(node, path);
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    out.push_back(non_empty_string(node[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::vector<std::string> YamlReader::scope_list(const YAML::Node& node,
                                                const std::string& path) const {
  require_sequence(node, path);
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    std::string scope = string(node[i], item_path);
    if (!is_scope_token(scope)) {
      fail(node[i], item_path,
           "invalid scope '" + scope +
               "' (one token: no spaces, quotes, backslashes or non-ASCII characters)");
    }
    if (std::find(out.begin(), out.end(), scope) == out.end()) out.push_back(std::move(scope));
  }
  return out;
}

int64_t YamlReader::integer(const YAML::Node& node, const std::string& path, int64_t min,
                            int64_t max) const {
  const std::string text = string(node, path);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const bool complete = end == text.data() + text.size();
  if (!(ec == std::errc() || ec == std::errc::result_out_of_range) || !complete) {
    fail(node, path, "expected an integer, got '" + text + "'");
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    fail(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return value;
}

std::string YamlReader::file_path(const YAML::Node& node, const std::string& path) const {
  const std::filesystem::path file = non_empty_string(node, path);
  if (file.is_absolute() || base_dir_.empty()) return file.string();
  return (base_dir_ / file).lexically_normal().string();
}

}  // namespace mag::config
