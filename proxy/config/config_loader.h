// The schema walk of a whole file: screening, the one document's top-level
// map, each section to its loader, then the top-level scalars. Throws
// LoadFailure (or a yaml-cpp exception) on the first mistake.
#pragma once

#include <filesystem>
#include <string>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

class ConfigLoader {
 public:
  ConfigLoader(std::string source, std::filesystem::path base_dir)
      : yaml_(std::move(source), std::move(base_dir)) {}

  Config load(const std::string& text);

 private:
  YamlReader yaml_;
};

}  // namespace mag::config
