#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "proxy/auth/bearer_token.h"

using mag::auth::extract_bearer_token;
using mag::auth::TokenPresence;
using mag::http::HeaderMap;

namespace {
mag::auth::ExtractedToken with(std::initializer_list<const char*> values) {
  static HeaderMap headers;  // the result points into it
  headers = HeaderMap();
  for (const char* v : values) headers.add("Authorization", v);
  return extract_bearer_token(headers);
}
}  // namespace

TEST_CASE("bearer_token: extraction") {
  CHECK(with({}).presence == TokenPresence::kAbsent);
  CHECK(with({"Basic dXNlcjpwYXNz"}).presence == TokenPresence::kAbsent);
  CHECK(with({"Bearer-invalid"}).presence == TokenPresence::kAbsent);
  CHECK(with({"Bearer"}).presence == TokenPresence::kMalformed);
  CHECK(with({"Bearer "}).presence == TokenPresence::kMalformed);
  CHECK(with({"Bearer  abc"}).presence == TokenPresence::kMalformed);
  CHECK(with({"Bearer a b"}).presence == TokenPresence::kMalformed);
  CHECK(with({"Bearer a, Bearer b"}).presence == TokenPresence::kMultiple);
  CHECK(with({"Bearer a", "Bearer b"}).presence == TokenPresence::kMultiple);

  auto ok = with({"Bearer abc.def.ghi"});
  CHECK(ok.presence == TokenPresence::kPresent);
  CHECK(ok.token == "abc.def.ghi");
  CHECK(with({"bearer x.y.z"}).token == "x.y.z");
  CHECK(with({"BEARER x.y.z"}).presence == TokenPresence::kPresent);
}

TEST_CASE("perf: bearer token separators are still refused anywhere in the token") {
  const std::string token(600, 'a');
  for (char sep : {' ', '\t', ','}) {
    for (size_t at : {size_t{0}, size_t{300}, token.size() - 1}) {
      mag::http::HeaderMap headers;
      std::string bad = token;
      bad[at] = sep;
      headers.add("Authorization", "Bearer " + bad);
      CAPTURE(at);
      CHECK(mag::auth::extract_bearer_token(headers).presence !=
            mag::auth::TokenPresence::kPresent);
    }
  }
  mag::http::HeaderMap good;
  good.add("Authorization", "Bearer " + token);
  auto extracted = mag::auth::extract_bearer_token(good);
  CHECK(extracted.presence == mag::auth::TokenPresence::kPresent);
  CHECK(extracted.token == token);
}
