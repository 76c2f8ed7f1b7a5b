// An application/x-www-form-urlencoded body, each name and value encoded
// with libevent's evhttp_uriencode (space as '+', everything but the
// unreserved characters percent-encoded), as a token request sends it.
#pragma once

#include <string>
#include <string_view>

namespace mag::credentials {

class FormBody {
 public:
  // Appends `name=value` ('&' between pairs).
  void add(std::string_view name, std::string_view value);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// One name or value in the form encoding (RFC 6749 Appendix B), as the
// client_secret_basic credentials are encoded before base64 (§2.3.1).
std::string form_encode(std::string_view value);

}  // namespace mag::credentials
