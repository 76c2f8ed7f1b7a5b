#include <doctest/doctest.h>

#include <jansson.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "proxy/auth/www_authenticate.h"

namespace {

using mag::auth::Challenge;
using mag::auth::ChallengeError;

const std::string kPrm = "https://gw.example.com/.well-known/oauth-protected-resource/mcp";

struct Parsed {
  bool well_formed = false;
  std::vector<std::pair<std::string, std::string>> params;  // in order
  size_t count(const std::string& name) const {
    size_t n = 0;
    for (const auto& p : params) n += p.first == name;
    return n;
  }
  std::string get(const std::string& name) const {
    for (const auto& p : params) {
      if (p.first == name) return p.second;
    }
    return "";
  }
};

// A strict reading of what we promise: `Bearer` first, then lowercase
// name="value" pairs separated by ", ", values without `"` or `\`.
Parsed parse_challenge(const std::string& header) {
  static const std::regex whole(R"re(^Bearer( [a-z_]+="[^"\\]*"(, [a-z_]+="[^"\\]*")*)?$)re");
  static const std::regex param(R"re(([a-z_]+)="([^"\\]*)")re");
  Parsed parsed;
  parsed.well_formed = std::regex_match(header, whole);
  for (auto it = std::sregex_iterator(header.begin(), header.end(), param);
       it != std::sregex_iterator(); ++it) {
    parsed.params.emplace_back((*it)[1].str(), (*it)[2].str());
  }
  return parsed;
}

void check_each_once(const Parsed& parsed) {
  for (const auto& [name, value] : parsed.params) {
    CAPTURE(name);
    CHECK(parsed.count(name) == 1);
  }
}

}  // namespace

TEST_CASE("www_authenticate: no credentials has no error parameters") {
  const std::string header = mag::auth::www_authenticate_no_credentials(kPrm);
  CHECK(header == "Bearer resource_metadata=\"" + kPrm + "\"");
  const Parsed parsed = parse_challenge(header);
  CHECK(parsed.well_formed);
  CHECK(parsed.count("error") == 0);
  CHECK(parsed.count("error_description") == 0);

  const std::string with_scope = mag::auth::www_authenticate_no_credentials(kPrm, {"a", "b"});
  CHECK(with_scope == "Bearer resource_metadata=\"" + kPrm + "\", scope=\"a b\"");
}

TEST_CASE("www_authenticate: invalid_token") {
  const std::string header = mag::auth::www_authenticate_invalid_token(kPrm, "Token expired");
  CHECK(header ==
        "Bearer error=\"invalid_token\", error_description=\"Token expired\", "
        "resource_metadata=\"" +
            kPrm + "\"");
  const Parsed parsed = parse_challenge(header);
  CHECK(parsed.well_formed);
  check_each_once(parsed);

  const Parsed scoped =
      parse_challenge(mag::auth::www_authenticate_invalid_token(kPrm, "x", {"mcp:tools", "read"}));
  CHECK(scoped.well_formed);
  CHECK(scoped.get("scope") == "mcp:tools read");
  CHECK(scoped.get("error") == "invalid_token");
  check_each_once(scoped);
}

TEST_CASE("www_authenticate: insufficient_scope") {
  const std::string header =
      mag::auth::www_authenticate_insufficient_scope(kPrm, {"a", "b", "a"}, "Required scope: b");
  CHECK(header == "Bearer error=\"insufficient_scope\", scope=\"a b\", resource_metadata=\"" +
                      kPrm + "\", error_description=\"Required scope: b\"");
  const Parsed parsed = parse_challenge(header);
  CHECK(parsed.well_formed);
  check_each_once(parsed);
}

TEST_CASE("www_authenticate: invalid_request and empty pieces") {
  Challenge c;
  c.error = ChallengeError::kInvalidRequest;
  c.resource_metadata = kPrm;
  const Parsed parsed = parse_challenge(mag::auth::www_authenticate_value(c));
  CHECK(parsed.well_formed);
  CHECK(parsed.get("error") == "invalid_request");
  CHECK_FALSE(parsed.get("error_description").empty());  // a generic one, never empty
  CHECK(parsed.count("scope") == 0);

  CHECK(mag::auth::www_authenticate_value(Challenge{}) == "Bearer");
}

TEST_CASE("www_authenticate: hostile values cannot break the header") {
  const std::string hostile = "bad \"token\", error=\"x\" \\\" \r\nSet-Cookie: a=b\x01\xc3\xa9\x7f";
  const std::string header = mag::auth::www_authenticate_invalid_token(
      kPrm, hostile, {"ok", "a\"b", "c\\d", "e f", "\x01", ""});
  CAPTURE(header);
  const Parsed parsed = parse_challenge(header);
  CHECK(parsed.well_formed);
  check_each_once(parsed);
  CHECK(parsed.count("error") == 1);
  CHECK(parsed.get("error") == "invalid_token");
  CHECK(header.find('\r') == std::string::npos);
  CHECK(header.find('\n') == std::string::npos);
  for (unsigned char ch : header) {
    CHECK((ch >= 0x20 && ch <= 0x7e));
  }
  const std::string description = parsed.get("error_description");
  CHECK(description.find("bad 'token', error='x' /'") == 0);
  // Scope tokens lose forbidden characters ("e f" becomes "ef"); empty ones disappear.
  CHECK(parsed.get("scope") == "ok ab cd ef");

  // A hostile resource_metadata (never from a validated config, but still) stays quoted.
  const Parsed url = parse_challenge(mag::auth::www_authenticate_no_credentials("https://x/\"\\y"));
  CHECK(url.well_formed);
  CHECK(url.get("resource_metadata") == "https://x/y");
}

TEST_CASE("www_authenticate: sanitisers") {
  CHECK(mag::auth::sanitize_error_description("a\"b\\c\td\xff") == "a'b/c d?");
  const std::string longer(500, 'x');
  const std::string cut = mag::auth::sanitize_error_description(longer);
  CHECK(cut.size() == 203);
  CHECK(cut.substr(200) == "...");
  CHECK(mag::auth::sanitize_scope_token("a b\"c\\d!~") == "abcd!~");
}

TEST_CASE("www_authenticate: JSON error body") {
  Challenge c{ChallengeError::kInvalidToken, "Token \"expired\"", {}, kPrm};
  const std::string body = mag::auth::error_body_json(c);
  json_error_t error;
  mag::JsonPtr json = mag::json_own(json_loads(body.c_str(), JSON_REJECT_DUPLICATES, &error));
  REQUIRE(json);
  CHECK(json_object_size(json.get()) == 2);
  CHECK(std::string(json_string_value(json_object_get(json.get(), "error"))) == "invalid_token");
  CHECK(std::string(json_string_value(json_object_get(json.get(), "error_description"))) ==
        "Token 'expired'");

  const std::string none =
      mag::auth::error_body_json(Challenge{ChallengeError::kNone, "", {}, kPrm});
  CHECK(none == R"({"error":"invalid_token","error_description":"Authentication required"})");
  const std::string scope =
      mag::auth::error_body_json(Challenge{ChallengeError::kInsufficientScope, "", {"a"}, kPrm});
  CHECK(scope == R"({"error":"insufficient_scope","error_description":"Insufficient scope"})");
}
