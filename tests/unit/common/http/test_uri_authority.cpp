#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/http/uri_authority.h"

TEST_CASE("uri_authority: authorities are parsed by the RFC 3986 grammar, strictly (MCP-20)") {
  using mag::http::parse_authority;
  const auto text = [](std::string_view in) {
    auto parsed = parse_authority(in);
    return parsed ? parsed->text() : std::string("REFUSED");
  };
  CHECK(text("localhost") == "localhost");
  CHECK(text("LOCALHOST:8000") == "localhost:8000");
  CHECK(text("localhost.") == "localhost");  // one trailing dot: the same name
  CHECK(text("Mcp.Example.com.:443") == "mcp.example.com:443");
  CHECK(text("127.0.0.1") == "127.0.0.1");
  CHECK(text("[::1]:80") == "[::1]:80");
  CHECK(text("[0:0:0:0:0:0:0:1]") == "[::1]");  // canonical IPv6 text
  CHECK(text("[::FFFF:127.0.0.1]") == "[::ffff:127.0.0.1]");
  CHECK(text("a-b.example:65535") == "a-b.example:65535");
  for (const char* hostile : {
           "",
           ":80",
           "[::1]x",
           "[::1]:80:80",
           "[::1",
           "::1",
           "[]",
           "[fe80::1%25eth0]",
           "[v1.abc]",
           "[127.0.0.1]",
           "127.1",
           "127.0.1",
           "1.2.3.4.5",
           "0x7f.0.0.1",
           "0x7f000001",
           "2130706433",
           "0177.0.0.1",
           "127.000.000.001",
           "127.0.0.01",
           "256.0.0.1",
           "example.123",
           "localhost..",
           ".localhost",
           "a..b",
           "..",
           ".",
           "host:",
           "host:99999",
           "host:65536",
           "host:0",
           "host:080",
           "host: 80",
           "host:80 ",
           " host",
           "host:+80",
           "host:8a",
           "host:80:80",
           "ho%73t",
           "h\xC3\xA9st.example",
           "host_name",
           "user@host",
           "host/path",
           "host?q",
           "host#f",
           "a,b",
           "localhost, evil.example",
           "host\t",
       }) {
    INFO("authority '" << hostile << "'");
    CHECK_FALSE(parse_authority(hostile));
  }
  CHECK_FALSE(parse_authority(std::string("local\0host", 10)));
  CHECK_FALSE(parse_authority(std::string(64, 'a') + ".example"));  // a label over 63
}

TEST_CASE("uri_authority: origins are scheme://authority and nothing else (MCP-19)") {
  using mag::http::normalise_origin;
  CHECK(normalise_origin("HTTPS://Claude.AI") == "https://claude.ai");
  CHECK(normalise_origin("https://claude.ai:443") == "https://claude.ai");
  CHECK(normalise_origin("http://localhost:80") == "http://localhost");
  CHECK(normalise_origin("http://localhost:443") == "http://localhost:443");
  CHECK(normalise_origin("vscode-webview://abc123") == "vscode-webview://abc123");
  for (const char* hostile :
       {"https://claude.ai/", "https://claude.ai/x", "https://claude.ai?x", "https://claude.ai#x",
        "https://user@claude.ai", "https://user:pw@claude.ai", "https://", "://claude.ai",
        "claude.ai", "1https://claude.ai", "ht tp://claude.ai", "https:claude.ai",
        "https://claude.ai:", "https://claude.ai:99999", "https://[::1]x", "null", ""}) {
    INFO("origin '" << hostile << "'");
    CHECK_FALSE(normalise_origin(hostile));
  }
}
