// libFuzzer target: YAML configuration documents through the full loader
// (yaml-cpp parse, schema conversion, validation). No exception may escape
// and exactly one of config / error is set.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  // A source name in a directory that does not exist: relative jwks_file /
  // certificate paths in fuzzed documents never resolve to real files.
  const auto result = mag::config::load_string(yaml, "/nonexistent-fuzz-dir/fuzz.yaml");
  if ((result.config == nullptr) == !result.error.has_value()) std::abort();
  return 0;
}
