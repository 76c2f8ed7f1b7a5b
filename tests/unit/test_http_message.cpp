#include <doctest/doctest.h>

#include "common/http_message.h"

using namespace mag::http;

TEST_CASE("http_message: iequals compares ASCII case-insensitively") {
  CHECK(iequals("Content-Length", "content-length"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("Host", "Hos"));
  CHECK_FALSE(iequals("Host", "Hosu"));
}

TEST_CASE("http_message: HeaderMap add/get/count/set/remove") {
  HeaderMap h;
  h.add("X-A", "1");
  h.add("x-a", "2");
  h.add("Other", "o");
  REQUIRE(h.get("X-A") != nullptr);
  CHECK(*h.get("X-A") == "1");
  CHECK(h.count("x-A") == 2);
  CHECK(h.get("missing") == nullptr);
  CHECK_FALSE(h.has("missing"));
  h.set("X-a", "3");
  CHECK(h.count("x-a") == 1);
  CHECK(*h.get("x-a") == "3");
  CHECK(h.size() == 2);
  h.remove("OTHER");
  CHECK(h.size() == 1);
  CHECK_FALSE(h.has("Other"));
}

TEST_CASE("http_message: has_token finds comma-separated elements across fields") {
  HeaderMap h;
  h.add("Connection", "keep-alive,  Upgrade ");
  h.add("connection", "X-Foo");
  CHECK(h.has_token("Connection", "upgrade"));
  CHECK(h.has_token("Connection", "KEEP-ALIVE"));
  CHECK(h.has_token("Connection", "x-foo"));
  CHECK_FALSE(h.has_token("Connection", "close"));
  CHECK_FALSE(h.has_token("Connection", "keep"));
  CHECK_FALSE(h.has_token("Upgrade", "upgrade"));
}

TEST_CASE("http_message: reason_phrase") {
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(401) == "Unauthorized");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(599) == "Server Error");
  CHECK(reason_phrase(299) == "Success");
}
