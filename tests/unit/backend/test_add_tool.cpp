// The backend's text rendering of responses (no jansson tree per
// tools/call add): every rendered text must be exactly what jansson's compact
// dump of the equivalent tree is, byte for byte.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/add_tool.h"
#include "backend/json_block_cache.h"
#include "backend/jsonrpc.h"

using mag::json_own;
using mag::JsonPtr;
using mag::backend::call_add_tool;
namespace jsonrpc = mag::backend::jsonrpc;

namespace {

JsonPtr parse(const std::string& text) {
  json_error_t error;
  return json_own(json_loadb(text.data(), text.size(), JSON_DECODE_ANY, &error));
}

std::string appended(const json_t* value) {
  std::string out = "prefix";
  jsonrpc::append_dump(&out, value);
  return out.substr(6);
}

}  // namespace

TEST_CASE("backend render: append_dump is dump for every kind of value") {
  std::vector<JsonPtr> values;
  for (json_int_t i : {json_int_t{0}, json_int_t{-1}, json_int_t{7}, json_int_t{INT64_MIN},
                       json_int_t{INT64_MAX}}) {
    values.push_back(json_own(json_integer(i)));
  }
  for (double d : {2.5, -0.0, 0.1, 1e300, -1e-300, 9.223372036854776e18}) {
    values.push_back(json_own(json_real(d)));
  }
  values.push_back(json_own(json_string("quote \" backslash \\ newline \n tab \t é \x01")));
  values.push_back(
      json_own(json_string(std::string(1000, 'x').c_str())));  // beyond the stack buffer
  values.push_back(json_own(json_null()));
  values.push_back(json_own(json_true()));
  values.push_back(parse(R"({"b":[1,2.5,"x"],"a":{}})"));
  for (const auto& v : values) {
    const std::string expected = jsonrpc::dump(v.get());
    CAPTURE(expected);
    CHECK(appended(v.get()) == expected);
  }
}

TEST_CASE("backend render: render_result is the dump of the response object") {
  for (const char* id_json : {"7", "-9223372036854775808", R"("req-1")", R"("a\"b\\c\u00e9\n")"}) {
    CAPTURE(id_json);
    JsonPtr id = parse(id_json);
    REQUIRE(id);
    JsonPtr expected = json_own(
        json_pack("{s:s,s:O,s:{s:b}}", "jsonrpc", "2.0", "id", id.get(), "result", "ok", 1));
    CHECK(jsonrpc::render_result(id.get(), R"({"ok":true})") == jsonrpc::dump(expected.get()));
  }
  CHECK(jsonrpc::render_result(nullptr, "{}") == R"({"jsonrpc":"2.0","id":null,"result":{}})");
}

TEST_CASE("backend render: call_add_tool renders what the equivalent tree dumps to") {
  struct Case {
    const char* arguments;
    const char* text;  // the expected content text
    bool integer;      // the expected result is an integer (else a real)
    json_int_t integer_sum;
    double real_sum;
  };
  const Case cases[] = {
      {R"({"a":2,"b":3})", "5", true, 5, 0},
      {R"({"a":-7,"b":3})", "-4", true, -4, 0},
      {R"({"a":2.5,"b":0.25})", "2.75", false, 0, 2.75},
      {R"({"a":0.1,"b":0.2})", "0.30000000000000004", false, 0, 0.30000000000000004},
      {R"({"a":-0.0,"b":0})", "0", false, 0, 0.0},
      {R"({"b":1,"a":9223372036854775807})", "9223372036854775808", false, 0,
       9223372036854775808.0},
      {R"({"a":1e-7,"b":1e300,"extra":"ignored"})", "1e+300", false, 0, 1e300},
  };
  for (const Case& c : cases) {
    CAPTURE(c.arguments);
    JsonPtr arguments = parse(c.arguments);
    REQUIRE(arguments);
    json_t* sum = c.integer ? json_integer(c.integer_sum) : json_real(c.real_sum);
    JsonPtr expected = json_own(
        json_pack("{s:[{s:s,s:s}],s:{s:O,s:O,s:o},s:b}", "content", "type", "text", "text", c.text,
                  "structuredContent", "a", json_object_get(arguments.get(), "a"), "b",
                  json_object_get(arguments.get(), "b"), "result", sum, "isError", 0));
    REQUIRE(expected);
    CHECK(call_add_tool(arguments.get()) == jsonrpc::dump(expected.get()));
  }
}

TEST_CASE("backend render: call_add_tool errors are tool results, rendered by jansson") {
  for (const char* arguments : {R"({"a":1e308,"b":1e308})", R"({"a":"2","b":3})", "null"}) {
    CAPTURE(arguments);
    JsonPtr args = parse(arguments);
    const std::string text = call_add_tool(json_is_null(args.get()) ? nullptr : args.get());
    JsonPtr result = parse(text);
    REQUIRE(result);
    CHECK(json_is_true(json_object_get(result.get(), "isError")));
    CHECK(json_object_get(result.get(), "structuredContent") == nullptr);
  }
}

// The allocator is exercised directly: installing it in this process would
// also route the other tests' jansson values through it.
TEST_CASE("backend json_block_cache: freed small blocks are reused, bounded, large ones pass") {
  namespace cache = mag::backend::json_block_cache;
  const size_t before = cache::cached_blocks();
  void* a = cache::allocate(24);
  REQUIRE(a != nullptr);
  std::memset(a, 0xab, 24);  // the whole requested size is usable
  cache::release(a);
  CHECK(cache::cached_blocks() == before + 1);
  void* b = cache::allocate(20);  // same 16-byte class: the same block again
  CHECK(b == a);
  CHECK(cache::cached_blocks() == before);
  cache::release(b);

  // A block well beyond the cached sizes is malloc's and goes straight back.
  const size_t cached = cache::cached_blocks();
  void* big = cache::allocate(4096);
  REQUIRE(big != nullptr);
  std::memset(big, 0, 4096);
  cache::release(big);
  CHECK(cache::cached_blocks() == cached);

  // At most kMaxCachedPerClass blocks of one class wait; the rest are freed.
  // (malloc may hand out a block a class larger than asked for, so the
  // released blocks can land in two classes, not more.)
  std::vector<void*> blocks;
  const size_t n = 3 * cache::kMaxCachedPerClass;
  for (size_t i = 0; i < n; ++i) blocks.push_back(cache::allocate(100));
  for (void* p : blocks) cache::release(p);
  CHECK(cache::cached_blocks() >= cached + cache::kMaxCachedPerClass);
  CHECK(cache::cached_blocks() <= cached + 2 * cache::kMaxCachedPerClass);

  // Memory from plain malloc (what json_dumps' callers may free() or jansson
  // may hand back) is accepted too.
  void* plain = std::malloc(40);
  REQUIRE(plain != nullptr);
  cache::release(plain);
  void* reused = cache::allocate(32);  // usable size 40: class 2 (up to 32 bytes)
  CHECK(reused == plain);
  std::free(reused);
}
