// load_file and load_string (declared in config.h): read the text, run the
// ConfigLoader, and turn every failure into a LoadError with its position.
#include <yaml-cpp/yaml.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxy/config/config.h"
#include "proxy/config/config_loader.h"
#include "proxy/config/input_screening.h"
#include "proxy/config/load_failure.h"

namespace mag::config {
namespace {

// yaml-cpp's parser messages are terse; add the likely cause for the two
// mistakes people make most: `${...}` inside a flow collection (YAML ends a
// plain scalar at `{` there) and tabs used for indentation.
std::string parse_error_hint(const std::string& text, const std::string& message,
                             const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  std::istringstream lines(text);
  std::string line;
  for (int i = 0; i <= mark.line && std::getline(lines, line); ++i) {
    const size_t indent_end = line.find_first_not_of(" \t");
    if (line.substr(0, indent_end).find('\t') != std::string::npos) {
      return " (line " + std::to_string(i + 1) +
             " is indented with a tab: YAML allows only spaces for indentation)";
    }
  }
  if (line.find("${") != std::string::npos && line.find_first_of("[{") != std::string::npos) {
    return " (inside [ ] or { }, quote values that use ${...}: \"${VAR}\")";
  }
  if (message == "bad file") return " (nested too deeply?)";
  return "";
}

std::string base_dir_of(const std::string& source_name) {
  if (source_name.empty() || source_name.front() == '<') return "";
  return std::filesystem::path(source_name).parent_path().string();
}

LoadResult load_with_base(const std::string& yaml, const std::string& source_name,
                          const std::string& base_dir) {
  LoadResult result;
  try {
    ConfigLoader loader(source_name, base_dir);
    result.config = std::make_shared<const Config>(loader.load(yaml));
  } catch (const LoadFailure& e) {
    result.error = LoadError{e.what()};
  } catch (const YAML::Exception& e) {
    result.error = LoadError{position(source_name, e.mark) + ": " + e.msg +
                             parse_error_hint(yaml, e.msg, e.mark)};
  } catch (const std::exception& e) {
    result.error = LoadError{source_name + ": " + e.what()};
  }
  return result;
}

}  // namespace

LoadResult load_string(const std::string& yaml, const std::string& source_name) {
  return load_with_base(yaml, source_name, base_dir_of(source_name));
}

LoadResult load_file(const std::string& path) {
  LoadResult result;
  try {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      result.error = LoadError{path + ": cannot open the file"};
      return result;
    }
    std::string text;
    std::array<char, 65536> buffer;
    while (file.read(buffer.data(), buffer.size()) || file.gcount() > 0) {
      text.append(buffer.data(), static_cast<size_t>(file.gcount()));
      if (text.size() > kMaxFileBytes) {
        result.error =
            LoadError{path + ": file is larger than " + std::to_string(kMaxFileBytes) + " bytes"};
        return result;
      }
    }
    if (file.bad()) {
      result.error = LoadError{path + ": read error"};
      return result;
    }
    // Absolute, so that resolved file paths survive a later chdir.
    const std::string base = std::filesystem::absolute(path).parent_path().string();
    return load_with_base(text, path, base);
  } catch (const std::exception& e) {
    result.error = LoadError{path + ": " + e.what()};
    return result;
  }
}

}  // namespace mag::config
