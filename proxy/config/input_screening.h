// Hostile-input screening before the YAML tree is built: the raw bytes must
// be text, and a first pass over the parser events bounds the work a crafted
// file can cause.
#pragma once

#include <cstddef>
#include <string>

namespace mag::config {

// The largest config file that is read at all.
inline constexpr size_t kMaxFileBytes = 1024 * 1024;

// Throws LoadFailure (proxy/config/load_failure.h) when `text` has NUL, other
// control characters or invalid UTF-8, holds no document or more than one,
// uses anchors or aliases, or has too many nodes.
void screen_input(const std::string& source, const std::string& text);

}  // namespace mag::config
