// upstreams.<name>.credentials: what loads, what is refused, and that no
// refusal ever shows the value (it is a secret).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/credentials_loader.h"
#include "tests/unit/config_test_util.h"
#include "tests/unit/scoped_env.h"
#include "tests/unit/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mag::config::load_string;
using mag::test::config_with_upstream;
using mag::test::ScopedEnv;
using mag::test::TempDir;

const std::string kSecret = "s3cr3t-credential-value";

// A config whose upstream `backend` has `credentials: {headers: ...}` with
// `headers_body` (indented eight spaces), loaded as `source` (relative file
// paths resolve against its directory).
mag::config::LoadResult load_credentials(const std::string& headers_body,
                                         const std::string& source = "<string>",
                                         const std::string& route_extra = "") {
  return load_string(config_with_upstream("    url: http://127.0.0.1:9000\n    credentials:\n"
                                          "      headers:\n" +
                                              headers_body,
                                          route_extra),
                     source);
}

std::string error_of(const mag::config::LoadResult& result) {
  REQUIRE_FALSE(result.config);
  REQUIRE(result.error);
  return result.error->message;
}

// Checks the refusal names `expected` and never shows the secret.
void check_refused(const mag::config::LoadResult& result, const std::string& expected) {
  const std::string error = error_of(result);
  CHECK_MESSAGE(error.find(expected) != std::string::npos, error);
  CHECK_MESSAGE(error.find(kSecret) == std::string::npos, error);
}

const std::vector<mag::config::CredentialHeader>& headers_of(
    const mag::config::LoadResult& result) {
  REQUIRE_MESSAGE(result.config, (result.error ? result.error->message : ""));
  return result.config->upstreams.at("backend").credential_headers;
}

}  // namespace

TEST_CASE("credentials_loader: values expand ${VAR} like every config value") {
  ScopedEnv token("MAG_TEST_CRED_TOKEN", kSecret);
  ScopedEnv key("MAG_TEST_CRED_KEY", "key-123");
  auto result = load_credentials(
      "        Authorization: \"Bearer ${MAG_TEST_CRED_TOKEN}\"\n"
      "        X-API-Key: ${MAG_TEST_CRED_KEY}\n");
  const auto& headers = headers_of(result);
  REQUIRE(headers.size() == 2);
  // Map order: sorted by name.
  CHECK(headers[0].name == "Authorization");
  CHECK(headers[0].value == "Bearer " + kSecret);
  CHECK(headers[0].file.empty());
  CHECK(headers[1].name == "X-API-Key");
  CHECK(headers[1].value == "key-123");
}

TEST_CASE("credentials_loader: the file form reads the file, trims one newline, adds the prefix") {
  TempDir dir;
  const std::string token = dir.write("token", kSecret + "\n");
  dir.write("crlf", "crlf-value\r\n");
  dir.write("bare", "bare-value");
  const std::string source = (dir.path() / "gw.yaml").string();
  auto result = load_credentials("        Authorization: {file: " + token +
                                     ", prefix: \"Bearer \"}\n"
                                     "        X-Crlf: {file: crlf}\n"
                                     "        X-Bare: {file: bare, prefix: \"\"}\n",
                                 source);
  const auto& headers = headers_of(result);
  REQUIRE(headers.size() == 3);
  CHECK(headers[0].name == "Authorization");
  CHECK(headers[0].value == "Bearer " + kSecret);
  CHECK(headers[0].file == token);
  CHECK(headers[0].prefixed);
  CHECK(headers[1].name == "X-Bare");
  CHECK(headers[1].value == "bare-value");
  CHECK_FALSE(headers[1].prefixed);
  CHECK(headers[2].name == "X-Crlf");
  CHECK(headers[2].value == "crlf-value");
  // Relative: against the config file's directory.
  CHECK(headers[2].file == (dir.path() / "crlf").string());
}

TEST_CASE("credentials_loader: a header name must be a token the gateway does not own") {
  for (const char* name : {"Host",
                           "content-length",
                           "Transfer-Encoding",
                           "Connection",
                           "Keep-Alive",
                           "TE",
                           "Upgrade",
                           "Proxy-Authorization",
                           "Mcp-Session-Id",
                           "MCP-Protocol-Version",
                           "Content-Type",
                           "X-Forwarded-For",
                           "X-Forwarded-User",
                           "x-forwarded-anything",
                           "X-Request-Id",
                           "Forwarded",
                           "X-Real-IP",
                           "Expect",
                           "Accept",
                           "Origin"}) {
    CAPTURE(name);
    check_refused(load_credentials("        " + std::string(name) + ": " + kSecret + "\n"),
                  "is a header the gateway must not overwrite");
  }
  check_refused(load_credentials("        \"X Key\": " + kSecret + "\n"),
                "upstreams.backend.credentials.headers.X Key: 'X Key' is not a header name");
  check_refused(load_credentials("        \"X:Key\": " + kSecret + "\n"), "is not a header name");
  check_refused(load_credentials("        \":authority\": " + kSecret + "\n"),
                "is not a header name");
  check_refused(load_credentials("        X_API_Key: " + kSecret + "\n"),
                "header names with '_' are refused");
}

TEST_CASE("credentials_loader: names are unique whatever their case") {
  check_refused(load_credentials("        X-API-Key: " + kSecret + "\n        x-api-key: other\n"),
                "is listed twice (names ignore case)");
}

TEST_CASE("credentials_loader: a value must be a valid header value; the refusal never shows it") {
  SUBCASE("control characters") {
    // NUL cannot be in an environment string nor in the YAML (refused as
    // a whole); the file form checks it below.
    for (const std::string bad : {"\r\nX-Injected: 1", "\n", "\r", "\t", "\x7f"}) {
      ScopedEnv env("MAG_TEST_CRED_BAD", kSecret + bad + "tail");
      check_refused(load_credentials("        X-Key: \"${MAG_TEST_CRED_BAD}\"\n"),
                    "upstreams.backend.credentials.headers.X-Key: the value contains a control "
                    "character");
    }
  }
  SUBCASE("too long") {
    ScopedEnv env("MAG_TEST_CRED_BAD", kSecret + std::string(8192, 'a'));
    check_refused(load_credentials("        X-Key: \"${MAG_TEST_CRED_BAD}\"\n"),
                  "the value is longer than 8192 bytes");
    ScopedEnv fits("MAG_TEST_CRED_FITS", std::string(8192, 'a'));
    CHECK(headers_of(load_credentials("        X-Key: \"${MAG_TEST_CRED_FITS}\"\n"))[0]
              .value.size() == 8192);
  }
  SUBCASE("empty, unset or edge whitespace") {
    check_refused(load_credentials("        X-Key: \"\"\n"), "the value must not be empty");
    ScopedEnv empty("MAG_TEST_CRED_EMPTY", "");
    check_refused(load_credentials("        X-Key: \"${MAG_TEST_CRED_EMPTY}\"\n"),
                  "the value must not be empty");
    check_refused(load_credentials("        X-Key:\n"), "expected a string, got nothing");
    check_refused(load_credentials("        X-Key: \" " + kSecret + "\"\n"),
                  "has leading or trailing whitespace");
  }
}

TEST_CASE("credentials_loader: the file form refuses what it cannot send") {
  TempDir dir;
  const std::string source = (dir.path() / "gw.yaml").string();
  auto file_form = [&](const std::string& name) {
    return load_credentials("        Authorization: {file: " + name + ", prefix: \"Bearer \"}\n",
                            source);
  };
  check_refused(file_form("missing"),
                "upstreams.backend.credentials.headers.Authorization.file: cannot open '" +
                    (dir.path() / "missing").string() + "': No such file or directory");
  dir.write("empty", "\n");
  check_refused(file_form("empty"), "the file is empty");
  dir.write("two-lines", kSecret + "\n\n");
  check_refused(file_form("two-lines"), "the value contains a control character");
  dir.write("inner", kSecret + "\nX-Injected: 1\n");
  check_refused(file_form("inner"), "the value contains a control character");
  dir.write("nul", kSecret + std::string(1, '\0') + "tail");
  check_refused(file_form("nul"), "the value contains a control character");
  dir.write("big", std::string(mag::config::kMaxCredentialFileBytes + 1, 'a'));
  check_refused(file_form("big"), "is larger than 65536 bytes");
  dir.write("long", std::string(8193, 'a'));
  check_refused(file_form("long"), "the value is longer than 8192 bytes");
  fs::create_directory(dir.path() / "a-directory");
  check_refused(file_form("a-directory"), "is not a regular file");
  REQUIRE(mkfifo((dir.path() / "fifo").c_str(), 0600) == 0);
  check_refused(file_form("fifo"), "is not a regular file");  // and does not wait for a writer
  check_refused(load_credentials("        Authorization: {prefix: \"Bearer \"}\n", source),
                "missing required key 'file'");
  check_refused(load_credentials("        Authorization: {file: x, value: y}\n", source),
                "unknown key 'value'");
}

TEST_CASE("credentials_loader: the credentials map itself") {
  auto upstream = [](const std::string& body) {
    return load_string(config_with_upstream("    url: http://127.0.0.1:9000\n" + body));
  };
  check_refused(upstream("    credentials: {}\n"),
                "expected at least one of 'headers', 'client_credentials', 'token_exchange'");
  check_refused(upstream("    credentials: {headers: {}}\n"), "must name at least one header");
  check_refused(upstream("    credentials: {header: {X-Key: v}}\n"),
                "unknown key 'header' (did you mean 'headers'?)");
  check_refused(upstream("    credentials: [X-Key]\n"), "expected a map");
}

TEST_CASE("credentials_loader: a route's identity header may not take a credential's name") {
  check_refused(load_credentials("        X-Upstream-Key: " + kSecret + "\n", "<string>",
                                 "    claim_to_headers: {sub: x-upstream-key}\n"),
                "routes[0].claim_to_headers.sub: 'x-upstream-key' is a credential header of "
                "upstream 'backend'");
}
