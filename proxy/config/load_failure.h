// How the loader reports a mistake in the file: a LoadFailure thrown inside
// it, with the position ("file:line:column") it starts with; load_string and
// load_file turn it into a LoadError.
#pragma once

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>

namespace mag::config {

// Thrown inside the loader only; load_string turns it into a LoadError.
struct LoadFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::string position(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source + ":1:1";
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

}  // namespace mag::config
