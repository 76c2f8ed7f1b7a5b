// Typed access to the yaml-cpp node tree: maps with their allowed keys,
// strings (with ${VAR} expanded), lists, bounded integers, file paths. Every
// mistake throws a LoadFailure that names file:line:column and the key path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/load_failure.h"

namespace mag::config {

struct Field {
  YAML::Node key;
  YAML::Node value;
};

class YamlReader {
 public:
  YamlReader(std::string source, std::filesystem::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  const std::string& source() const { return source_; }

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& message) const {
    throw LoadFailure(position(source_, mark) + ": " + (path.empty() ? "" : path + ": ") + message);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& message) const {
    fail(node.Mark(), path, message);
  }

  static std::string kind(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "a map";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Scalar:
        return "a string";
      default:
        return "nothing (null)";
    }
  }

  std::map<std::string, Field> read_map(const YAML::Node& node, const std::string& path,
                                        std::initializer_list<std::string_view> allowed) const;
  std::map<std::string, Field> read_map(const YAML::Node& node, const std::string& path) const;
  std::string string(const YAML::Node& node, const std::string& path) const;
  std::string non_empty_string(const YAML::Node& node, const std::string& path) const;
  std::vector<std::string> string_list(const YAML::Node& node, const std::string& path) const;
  std::vector<std::string> scope_list(const YAML::Node& node, const std::string& path) const;
  int64_t integer(const YAML::Node& node, const std::string& path, int64_t min, int64_t max) const;
  std::string file_path(const YAML::Node& node, const std::string& path) const;
  void require_sequence(const YAML::Node& node, const std::string& path) const;

 private:
  std::string source_;
  std::filesystem::path base_dir_;
};

}  // namespace mag::config
