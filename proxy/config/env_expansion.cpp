// ${NAME} and ${NAME:-default} in config strings (declared in config.h).
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "proxy/config/config.h"

namespace mag::config {

bool expand_env(const std::string& in, std::string* out, std::string* error) {
  std::string result;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size() || (in[i + 1] != '$' && in[i + 1] != '{')) {
      result += in[i];
      continue;
    }
    if (in[i + 1] == '$') {
      result += '$';
      ++i;
      continue;
    }
    const size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      *error = "unterminated '${' (write '$$' for a literal '$')";
      return false;
    }
    const std::string body = in.substr(i + 2, close - i - 2);
    const size_t separator = body.find(":-");
    const std::string name = body.substr(0, separator);
    const bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                            std::all_of(name.begin(), name.end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                            });
    if (!valid_name) {
      *error =
          "invalid variable reference '${" + body + "}' (expected ${NAME} or ${NAME:-default})";
      return false;
    }
    const char* value = std::getenv(name.c_str());
    if (value && *value) {
      result += value;
    } else if (separator != std::string::npos) {
      result += body.substr(separator + 2);
    } else if (value) {
      // Set but empty, no default: keep the empty value; validation decides.
    } else {
      *error = "environment variable '" + name + "' is not set (use ${" + name +
               ":-default} to give a default)";
      return false;
    }
    i = close;
  }
  *out = std::move(result);
  return true;
}

}  // namespace mag::config
