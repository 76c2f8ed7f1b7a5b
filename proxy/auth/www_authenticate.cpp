#include "proxy/auth/www_authenticate.h"

#include <jansson.h>

#include <cstdlib>
#include <memory>

#include "common/core/c_handles.h"
#include "common/json/json_text.h"

namespace mag::auth {
namespace {

constexpr size_t kMaxDescription = 200;

bool is_quoted_safe(unsigned char c) {
  return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

bool is_scope_char(unsigned char c) {
  return c != 0x20 && is_quoted_safe(c);
}

// A URL from configuration is already validated; this is defence in depth so
// the quoted-string can never be broken out of.
std::string sanitize_quoted(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (is_quoted_safe(static_cast<unsigned char>(ch))) out += ch;
  }
  return out;
}

std::string scope_value(const std::vector<std::string>& scopes) {
  std::vector<std::string> seen;
  std::string out;
  for (const auto& scope : scopes) {
    std::string token = sanitize_scope_token(scope);
    if (token.empty()) continue;
    bool duplicate = false;
    for (const auto& s : seen) duplicate = duplicate || s == token;
    if (duplicate) continue;
    if (!out.empty()) out += ' ';
    out += token;
    seen.push_back(std::move(token));
  }
  return out;
}

std::string default_description(ChallengeError error) {
  switch (error) {
    case ChallengeError::kInvalidRequest:
      return "Malformed authorization request";
    case ChallengeError::kInvalidToken:
      return "Invalid access token";
    case ChallengeError::kInsufficientScope:
      return "Insufficient scope";
    case ChallengeError::kNone:
      break;
  }
  return "Authentication required";
}

std::string description_for(const Challenge& challenge) {
  std::string description = sanitize_error_description(challenge.description);
  return description.empty() ? default_description(challenge.error) : description;
}

class ParamWriter {
 public:
  void add(std::string_view name, const std::string& value) {
    if (value.empty()) return;
    out_ += first_ ? " " : ", ";
    first_ = false;
    out_ += name;
    out_ += "=\"";
    out_ += value;
    out_ += '"';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_ = "Bearer";
  bool first_ = true;
};

}  // namespace

std::string_view challenge_error_code(ChallengeError error) {
  switch (error) {
    case ChallengeError::kInvalidRequest:
      return "invalid_request";
    case ChallengeError::kInvalidToken:
      return "invalid_token";
    case ChallengeError::kInsufficientScope:
      return "insufficient_scope";
    case ChallengeError::kNone:
      break;
  }
  return "";
}

std::string sanitize_error_description(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (out.size() >= kMaxDescription) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += '\'';
    } else if (c == '\\') {
      out += '/';
    } else if (c == '\t' || c == '\r' || c == '\n') {
      out += ' ';
    } else {
      out += is_quoted_safe(c) ? ch : '?';
    }
  }
  return out;
}

std::string sanitize_scope_token(std::string_view token) {
  std::string out;
  for (char ch : token) {
    if (is_scope_char(static_cast<unsigned char>(ch))) out += ch;
  }
  return out;
}

std::string www_authenticate_value(const Challenge& challenge) {
  ParamWriter params;
  const std::string metadata = sanitize_quoted(challenge.resource_metadata);
  const std::string scope = scope_value(challenge.scopes);
  const std::string code(challenge_error_code(challenge.error));
  switch (challenge.error) {
    case ChallengeError::kNone:
      params.add("resource_metadata", metadata);
      params.add("scope", scope);
      break;
    case ChallengeError::kInvalidToken:
    case ChallengeError::kInvalidRequest:
      params.add("error", code);
      params.add("error_description", description_for(challenge));
      params.add("resource_metadata", metadata);
      params.add("scope", scope);
      break;
    case ChallengeError::kInsufficientScope:
      params.add("error", code);
      params.add("scope", scope);
      params.add("resource_metadata", metadata);
      params.add("error_description", description_for(challenge));
      break;
  }
  return params.take();
}

std::string www_authenticate_no_credentials(const std::string& resource_metadata,
                                            const std::vector<std::string>& scopes) {
  return www_authenticate_value({ChallengeError::kNone, "", scopes, resource_metadata});
}

std::string www_authenticate_invalid_token(const std::string& resource_metadata,
                                           std::string_view description,
                                           const std::vector<std::string>& scopes) {
  return www_authenticate_value(
      {ChallengeError::kInvalidToken, std::string(description), scopes, resource_metadata});
}

std::string www_authenticate_insufficient_scope(const std::string& resource_metadata,
                                                const std::vector<std::string>& scopes,
                                                std::string_view description) {
  return www_authenticate_value(
      {ChallengeError::kInsufficientScope, std::string(description), scopes, resource_metadata});
}

std::string error_body_json(const Challenge& challenge) {
  const bool no_credentials = challenge.error == ChallengeError::kNone;
  const std::string code =
      no_credentials ? "invalid_token" : std::string(challenge_error_code(challenge.error));
  const std::string description =
      no_credentials ? default_description(ChallengeError::kNone) : description_for(challenge);
  JsonPtr body = json_own(json_object());
  // Both strings are ASCII after sanitising, so json_string cannot fail on UTF-8.
  if (!body || json_object_set_new(body.get(), "error", json_string(code.c_str())) != 0 ||
      json_object_set_new(body.get(), "error_description", json_string(description.c_str())) != 0) {
    return R"({"error":"server_error"})";
  }
  return json::to_json_string(body.get(), JSON_COMPACT | JSON_PRESERVE_ORDER)
      .value_or(R"({"error":"server_error"})");
}

}  // namespace mag::auth
