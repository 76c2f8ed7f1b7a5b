#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "common/http/url.h"

using mag::http::parse_absolute_url;
using mag::http::SchemeCase;
using mag::http::Url;
using mag::http::UrlError;

namespace {

UrlError error_of(std::string_view text, SchemeCase scheme_case = SchemeCase::kAny) {
  Url url;
  return parse_absolute_url(text, &url, scheme_case);
}

}  // namespace

TEST_CASE("url: an absolute URL is split into its parts") {
  Url u;
  REQUIRE(parse_absolute_url("http://Example.COM:8080/a/b?c=d#frag", &u) == UrlError::kNone);
  CHECK(u.scheme == "http");
  CHECK(u.host == "Example.COM");  // as written: callers decide on case
  CHECK(u.authority == "Example.COM:8080");
  CHECK(u.port == 8080);
  CHECK(u.effective_port() == 8080);
  CHECK(u.path == "/a/b");
  REQUIRE(u.query.has_value());
  CHECK(*u.query == "c=d");
  REQUIRE(u.fragment.has_value());
  CHECK(*u.fragment == "frag");

  REQUIRE(parse_absolute_url("HTTPS://idp.example", &u) == UrlError::kNone);
  CHECK(u.scheme == "https");
  CHECK(u.authority == "idp.example");
  CHECK(u.port == 0);
  CHECK(u.effective_port() == 443);
  CHECK(u.path.empty());
  CHECK_FALSE(u.query.has_value());
  CHECK_FALSE(u.fragment.has_value());

  REQUIRE(parse_absolute_url("http://h?", &u) == UrlError::kNone);
  CHECK(u.effective_port() == 80);
  REQUIRE(u.query.has_value());
  CHECK(u.query->empty());

  REQUIRE(parse_absolute_url("http://h/#a?b", &u) == UrlError::kNone);
  CHECK(u.path == "/");
  CHECK_FALSE(u.query.has_value());  // a '?' inside the fragment is part of it
  CHECK(*u.fragment == "a?b");
}

TEST_CASE("url: IPv6 hosts come without brackets, the authority with them") {
  Url u;
  REQUIRE(parse_absolute_url("http://[::1]:9000/x", &u) == UrlError::kNone);
  CHECK(u.host == "::1");
  CHECK(u.authority == "[::1]:9000");
  CHECK(u.port == 9000);
  REQUIRE(parse_absolute_url("https://[2001:DB8::1]", &u) == UrlError::kNone);
  CHECK(u.host == "2001:DB8::1");
  CHECK(u.effective_port() == 443);
  REQUIRE(parse_absolute_url("http://[::ffff:127.0.0.1]/", &u) == UrlError::kNone);
  CHECK(u.host == "::ffff:127.0.0.1");
}

TEST_CASE("url: ports are 1..65535 with at most five digits") {
  Url u;
  REQUIRE(parse_absolute_url("http://h:1/", &u) == UrlError::kNone);
  CHECK(u.port == 1);
  REQUIRE(parse_absolute_url("http://h:65535/", &u) == UrlError::kNone);
  CHECK(u.port == 65535);
  REQUIRE(parse_absolute_url("http://h:00080/", &u) == UrlError::kNone);
  CHECK(u.port == 80);
  CHECK(error_of("http://h:0/") == UrlError::kPort);
  CHECK(error_of("http://h:00000/") == UrlError::kPort);
  CHECK(error_of("http://h:000080/") == UrlError::kPort);
  CHECK(error_of("http://h:65536/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://h:99999999999999999999999/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://h:/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://h:80x/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://h:-1/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://h:+80/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://h:80:80/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://[::1]:/") == UrlError::kNotAbsolute);
  CHECK(error_of("http://[::1]:0/") == UrlError::kPort);
}

TEST_CASE("url: the scheme is http or https; lower case only when asked") {
  CHECK(error_of("ftp://h/") == UrlError::kScheme);
  CHECK(error_of("httpx://h/") == UrlError::kScheme);
  CHECK(error_of("Http://h/") == UrlError::kNone);
  CHECK(error_of("Http://h/", SchemeCase::kLowerOnly) == UrlError::kScheme);
  CHECK(error_of("HTTPS://h/", SchemeCase::kLowerOnly) == UrlError::kScheme);
  CHECK(error_of("https://h/", SchemeCase::kLowerOnly) == UrlError::kNone);
  // Shape goes before scheme, scheme before the port's value.
  CHECK(error_of("ftp://[::1/") == UrlError::kNotAbsolute);
  CHECK(error_of("ftp://h:0/") == UrlError::kScheme);
  CHECK(error_of("HTTP://h:0/", SchemeCase::kLowerOnly) == UrlError::kScheme);
  CHECK(error_of("HTTP://h:0/") == UrlError::kPort);
}

TEST_CASE("url: hostile and malformed inputs are refused, never crash") {
  Url u;
  u.host = "untouched";
  for (std::string_view shape : {
           "",
           "h",
           "://h/",
           "example.com/",
           "/relative/path",
           "http:/h/",
           "http:h",
           "http://",
           "http:///path",
           "http://?x",
           "http://#x",
           "http://:80/",
           "h2c://h/",
           "1http://h/",
           "ht-tp://h/",
           "http://[::1/",
           "http://[::1]x/",
           "http://[]/",
           "http://[::1]]/",
           "http://[fe80::1%25eth0]/",
           "http://[g::1]/",
           "http://h[::1]/",
           "http://exa\"mple/",
           "http://exa<mple/",
           "http://ex%41mple/",
           "http://ex\\ample/",
           "http://h\xC3\xA9/",
       }) {
    CAPTURE(shape);
    CHECK(parse_absolute_url(shape, &u) == UrlError::kNotAbsolute);
  }
  CHECK(u.host == "untouched");  // nothing written on failure

  CHECK(error_of("http://user:pw@h/") == UrlError::kUserinfo);
  CHECK(error_of("http://@h/") == UrlError::kUserinfo);
  CHECK(error_of("http://h/a@b") == UrlError::kNone);  // '@' in the path is no userinfo
  for (std::string_view bytes : {
           std::string_view("http://exa mple.com/"),
           std::string_view("http://h/a\r\nX-Injected: 1"),
           std::string_view("http://h/\t"),
           std::string_view("http://h/\x7f"),
           std::string_view("http://h/\0x", 10),
           std::string_view(" http://h/"),
       }) {
    CAPTURE(bytes);
    CHECK(error_of(bytes) == UrlError::kSpaceOrControl);
  }
  // Bytes >= 0x80 are the caller's call outside the host.
  CHECK(error_of("http://h/caf\xC3\xA9") == UrlError::kNone);

  const std::string long_path = "http://h/" + std::string(100000, 'a');
  REQUIRE(parse_absolute_url(long_path, &u) == UrlError::kNone);
  CHECK(u.path.size() == 100001);
  const std::string long_host = "http://" + std::string(100000, 'a') + ":8080/";
  REQUIRE(parse_absolute_url(long_host, &u) == UrlError::kNone);
  CHECK(u.host.size() == 100000);
  CHECK(u.port == 8080);
}
