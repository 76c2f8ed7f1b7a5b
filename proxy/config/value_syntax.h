// Syntax checks of config values: addresses, URLs, ports. Each returns the
// reason on failure (an empty string when the value is fine).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mag::config {

bool has_control_or_space(std::string_view s);
// Letters, digits, '.', '-' and '_': what a host name may hold.
bool is_host_char(char c);
bool parse_port(std::string_view digits, uint16_t* port);
// "host:port" or "[v6]:port"; returns an empty string when fine, else the reason.
std::string check_host_port(std::string_view address);

struct Url {
  std::string scheme, host, authority, path;
  uint16_t port = 0;  // 0 when absent
};

// Splits an absolute http(s) URL with http::parse_absolute_url. Refuses
// userinfo, query, fragment, whitespace, control characters and a scheme not
// written in lower case. Returns the reason on failure.
std::string parse_url(std::string_view text, Url* url);

// Levenshtein distance (insert, delete, substitute: 1 each), for the
// "did you mean" of unknown keys and method names.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace mag::config
