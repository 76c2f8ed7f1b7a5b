#include <doctest/doctest.h>

#include <string>

#include "proxy/router/media_type.h"

using mag::proxy::is_event_stream;
using mag::proxy::is_plain_json;
using mag::proxy::parse_media_type;

namespace {

// parse_media_type() then is_plain_json(); false when it does not parse.
bool plain_json(const std::string& value) {
  auto parsed = parse_media_type(value);
  return parsed && is_plain_json(*parsed);
}

}  // namespace

TEST_CASE("media_type: type, subtype and parameters by the RFC 9110 grammar") {
  auto bare = parse_media_type("application/json");
  REQUIRE(bare);
  CHECK(bare->type == "application");
  CHECK(bare->subtype == "json");
  CHECK(bare->parameters.empty());

  auto upper = parse_media_type("APPLICATION/JSON;CHARSET=\"UTF-8\"");
  REQUIRE(upper);
  CHECK(upper->type == "application");
  CHECK(upper->subtype == "json");
  REQUIRE(upper->parameters.size() == 1);
  CHECK(upper->parameters[0].name == "charset");
  CHECK(upper->parameters[0].value == "UTF-8");  // values keep their case

  auto two = parse_media_type(" text/plain \t; a=1;b=\"x;y\" ;\tc=\"q\\\"\\\\z\" ");
  REQUIRE(two);
  CHECK(two->type == "text");
  REQUIRE(two->parameters.size() == 3);
  CHECK(two->parameters[0].value == "1");
  CHECK(two->parameters[1].value == "x;y");  // a ';' inside quotes is no separator
  CHECK(two->parameters[2].value == "q\"\\z");

  // Empty parameters are in the grammar (*( OWS ";" OWS [ parameter ] )).
  auto empties = parse_media_type("application/json;; ;charset=utf-8;");
  REQUIRE(empties);
  CHECK(empties->parameters.size() == 1);
}

TEST_CASE("media_type: anything outside the grammar does not parse") {
  for (const char* bad : {
           "",
           " ",
           "application",
           "application/",
           "/json",
           "application /json",
           "application/ json",
           "application/json json",
           "application/json, text/plain",  // a list is not one media type
           "application/json,application/json",
           "application/json; charset",         // no '='
           "application/json; charset=",        // no value
           "application/json; =utf-8",          // no name
           "application/json; charset =utf-8",  // no whitespace around '=' (RFC 9110 §5.6.6)
           "application/json; charset= utf-8",
           "application/json; charset=utf-8 x",
           "application/json; charset=\"utf-8",    // unterminated
           "application/json; charset=\"utf-8\\",  // quoted-pair cut off
           "application/json; charset=\"utf\x01-8\"",
           "application/json; charset=\"a\"b",
           "application/json; charset=utf-8; charset",
           "appli\"cation/json",
           "application/json\x7f",
       }) {
    CHECK_MESSAGE(!parse_media_type(bad), bad);
  }
}

TEST_CASE("media_type: plain JSON is application/json with at most charset=utf-8") {
  for (const char* good : {
           "application/json",
           "application/json; charset=utf-8",
           "application/json;charset=UTF-8",
           "APPLICATION/JSON;CHARSET=\"UTF-8\"",
           "Application/Json ;\tCharset=\"utf\\-8\"",  // quoted-pair unescaped
           "application/json;",
       }) {
    CHECK_MESSAGE(plain_json(good), good);
  }
  for (const char* other : {
           "application/json; charset=utf-7",
           "application/json; charset=UTF-7-IMAP",
           "application/json; charset=utf-16",
           "application/json; charset=utf-16le",
           "application/json; charset=utf-32",
           "application/json; charset=latin1",
           "application/json; charset=ISO-8859-1",
           "application/json; charset=utf8",  // not the registered name
           "application/json; charset=\"utf-8 \"",
           "application/json; charset=utf-8; charset=utf-8",  // two: which one counts?
           "application/json; charset=utf-8; charset=utf-7",
           "application/json; foo=bar",
           "application/json; charset=utf-8; foo=bar",
           "application/json-seq",
           "application/jsonx",
           "application/vnd.api+json",
           "text/json",
           "text/plain",
           "application/x-www-form-urlencoded",
           "multipart/form-data; boundary=x",
       }) {
    CHECK_MESSAGE(!plain_json(other), other);
  }
}

TEST_CASE("media_type: an event stream is one text/event-stream Content-Type in any case") {
  auto with = [](std::initializer_list<std::string_view> values) {
    mag::http::HeaderMap headers;
    for (auto value : values) headers.add("Content-Type", value);
    return headers;
  };
  CHECK(is_event_stream(with({"text/event-stream"})));
  CHECK(is_event_stream(with({"Text/Event-Stream; charset=utf-8"})));
  CHECK(is_event_stream(with({" TEXT/EVENT-STREAM "})));
  CHECK_FALSE(is_event_stream(with({})));
  CHECK_FALSE(is_event_stream(with({"application/json"})));
  CHECK_FALSE(is_event_stream(with({"text/event-streamx"})));
  CHECK_FALSE(is_event_stream(with({"text/event-stream", "text/event-stream"})));
}
