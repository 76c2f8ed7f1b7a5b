#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/http/http_message.h"

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

// HeaderMap keeps every name and value in one storage string:
// the views it hands out, and the views it is given, must stay right
// through growth, removal, copies and moves.
TEST_CASE("http_message: HeaderMap set keeps order and replaces every duplicate") {
  HeaderMap h;
  h.add("A", "1");
  h.add("B", "2");
  h.add("a", "3");
  h.set("A", "4");
  REQUIRE(h.size() == 2);
  CHECK(h.fields()[0].name == "B");
  CHECK(h.fields()[1].name == "A");
  CHECK(h.fields()[1].value == "4");
  h.add("Empty", "");
  REQUIRE(h.get("empty") != nullptr);
  CHECK(h.get("empty")->empty());
}

TEST_CASE("http_message: HeaderMap values may come from its own fields, removed or not") {
  HeaderMap h;
  h.add("Host", "example.com:8000");
  h.add("X-Long", std::string(300, 'v'));

  SUBCASE("a removed field's value re-added under another name") {
    const std::string_view host = *h.get("host");
    h.remove("Host");
    CHECK_FALSE(h.has("Host"));
    h.add("X-Forwarded-Host", host);
    CHECK(*h.get("x-forwarded-host") == "example.com:8000");
  }
  SUBCASE("set from its own value") {
    h.set("X-Long", *h.get("x-long"));
    CHECK(h.size() == 2);
    CHECK(*h.get("x-long") == std::string(300, 'v'));
  }
  SUBCASE("own views while the storage grows") {
    // Each field copies the previous one's value; the storage has to move
    // several times on the way, and the source is inside it each time.
    for (int i = 0; i < 200; ++i) {
      const std::string_view previous = h.fields().back().value;
      h.add("X-" + std::to_string(i), previous);
    }
    REQUIRE(h.size() == 202);
    for (size_t i = 1; i < h.size(); ++i) CHECK(h.fields()[i].value == std::string(300, 'v'));
    CHECK(*h.get("host") == "example.com:8000");
  }
  SUBCASE("a name that is a view of the field being removed") {
    const std::string_view name = h.fields()[0].name;
    h.remove(name);
    CHECK(h.size() == 1);
    CHECK(h.fields()[0].name == "X-Long");
  }
}

TEST_CASE("http_message: HeaderMap with many fields and large values") {
  HeaderMap h;
  std::vector<std::pair<std::string, std::string>> expected;
  for (int i = 0; i < 1000; ++i) {
    std::string name = "X-Field-" + std::to_string(i);
    std::string value(static_cast<size_t>(i % 37) * 11, static_cast<char>('a' + i % 26));
    h.add(name, value);
    expected.emplace_back(std::move(name), std::move(value));
  }
  const std::string big(64 * 1024, 'b');
  h.add("X-Big", big);
  REQUIRE(h.size() == 1001);
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(h.fields()[i].name == expected[i].first);
    CHECK(h.fields()[i].value == expected[i].second);
  }
  CHECK(*h.get("x-big") == big);
  CHECK(*h.get("X-FIELD-999") == expected[999].second);
  CHECK(h.count("x-field-5") == 1);

  // Remove every other field, then grow again: the compacted storage keeps
  // the survivors intact.
  for (int i = 0; i < 1000; i += 2) h.remove("X-Field-" + std::to_string(i));
  h.add("X-After", std::string(100 * 1024, 'c'));
  REQUIRE(h.size() == 502);
  for (int i = 1; i < 1000; i += 2) {
    const std::string_view* v = h.get("x-field-" + std::to_string(i));
    REQUIRE(v != nullptr);
    CHECK(*v == expected[static_cast<size_t>(i)].second);
  }
  CHECK(*h.get("x-big") == big);
}

TEST_CASE("http_message: HeaderMap storage stays bounded under repeated set") {
  HeaderMap h;
  h.add("Keep", "k");
  for (int i = 0; i < 10000; ++i)
    h.set("X-Counter", std::string(100, static_cast<char>('0' + i % 10)));
  CHECK(h.size() == 2);
  CHECK(*h.get("x-counter") == std::string(100, '9'));
  CHECK(*h.get("keep") == "k");
  // Dead bytes are dropped whenever the storage grows: a few times the
  // live bytes at most, not 10 000 copies.
  CHECK(h.storage().size() < 4096);
}

TEST_CASE("http_message: HeaderMap copies and moves carry their own views") {
  HeaderMap original;
  original.add("Host", "h");
  original.add("X-Long", std::string(500, 'x'));

  HeaderMap copy = original;
  original.set("Host", "changed");
  original.add("X-More", "m");
  CHECK(*copy.get("host") == "h");
  CHECK(*copy.get("x-long") == std::string(500, 'x'));
  CHECK_FALSE(copy.has("x-more"));

  HeaderMap assigned;
  assigned.add("Old", "o");
  assigned = copy;
  CHECK_FALSE(assigned.has("old"));
  CHECK(*assigned.get("host") == "h");
  const HeaderMap& self = assigned;
  assigned = self;
  CHECK(*assigned.get("host") == "h");

  const std::string_view* long_value = copy.get("x-long");
  const char* bytes = long_value->data();
  HeaderMap moved = std::move(copy);
  CHECK(moved.get("x-long")->data() == bytes);  // a move copies no bytes
  CHECK(*moved.get("x-long") == std::string(500, 'x'));
  CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  copy.add("Reused", "r");
  CHECK(*copy.get("reused") == "r");

  HeaderMap target;
  target.add("T", "t");
  target = std::move(moved);
  CHECK(*target.get("host") == "h");
  CHECK_FALSE(target.has("t"));
}

TEST_CASE("http_message: HeaderMap adopted storage: fields are views, small storage moves") {
  SUBCASE("a head's bytes") {
    HeaderMap h;
    h.adopt_storage("Host: a\r\nX-Y: long enough value to leave the small buffer\r\n");
    const std::string_view s = h.storage();
    h.add(s.substr(0, 4), s.substr(6, 1));
    h.add(s.substr(9, 3), s.substr(14, 43));
    CHECK(h.storage().data() == s.data());  // nothing was copied
    CHECK(h.storage().size() == s.size());
    CHECK(*h.get("host") == "a");
    CHECK(*h.get("x-y") == "long enough value to leave the small buffer");
    h.add("Added", "after");  // may grow: the views move with the bytes
    CHECK(*h.get("x-y") == "long enough value to leave the small buffer");
    CHECK(*h.get("added") == "after");
  }
  SUBCASE("storage short enough for the small-string buffer") {
    HeaderMap h;
    h.adopt_storage("A: b\r\n");
    const std::string_view s = h.storage();
    h.add(s.substr(0, 1), s.substr(3, 1));
    HeaderMap moved = std::move(h);
    REQUIRE(moved.size() == 1);
    CHECK(moved.fields()[0].name == "A");
    CHECK(moved.fields()[0].value == "b");
    CHECK(moved.fields()[0].value.data() >= moved.storage().data());
    CHECK(moved.fields()[0].value.data() < moved.storage().data() + moved.storage().size());
  }
}

TEST_CASE("http_message: HeaderMap lookups find every spelling after removals, copies and moves") {
  // get/count/has_token skip the scan for names the map cannot have: a
  // name must never be missed whatever its case, length or history.
  HeaderMap h;
  const std::vector<std::string> names = {
      "Host",         "Content-Length", "x", "A-B-C", "mcp-session-id", "Origin", "Accept",
      "X-Request-Id", "content-type",   ""};
  for (const auto& name : names) h.add(name, "v:" + name);
  auto flip = [](std::string s) {
    for (auto& c : s) {
      if (c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 32);
      else if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c + 32);
    }
    return s;
  };
  auto check_all = [&](const HeaderMap& m) {
    for (const auto& name : names) {
      REQUIRE(m.get(flip(name)) != nullptr);
      CHECK(*m.get(flip(name)) == "v:" + name);
      CHECK(m.count(flip(name)) == 1);
    }
  };
  check_all(h);
  CHECK(h.get("Hosts") == nullptr);
  CHECK(h.get("Origim") == nullptr);
  CHECK(h.count("accept-encoding") == 0);
  h.add("Connection", "keep-alive");
  CHECK(h.has_token("CONNECTION", "Keep-Alive"));
  h.remove("connection");
  CHECK_FALSE(h.has_token("connection", "keep-alive"));
  CHECK(h.get("connection") == nullptr);
  h.add("CONNECTION", "close");
  CHECK(h.has_token("connection", "close"));
  HeaderMap copy = h;
  check_all(copy);
  HeaderMap moved = std::move(copy);
  check_all(moved);
  CHECK(moved.has_token("Connection", "close"));
  CHECK(copy.get("host") == nullptr);  // NOLINT(bugprone-use-after-move)
  moved.adopt_storage("Host: z\r\n");
  CHECK(moved.get("host") == nullptr);
}
