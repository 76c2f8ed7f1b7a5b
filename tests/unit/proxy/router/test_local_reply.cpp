#include <doctest/doctest.h>

#include "proxy/router/local_reply.h"

TEST_CASE("local_reply: the JSON-RPC error body without id") {
  CHECK(mag::proxy::jsonrpc_error_without_id(-32000, "Forbidden") ==
        R"({"jsonrpc":"2.0","error":{"code":-32000,"message":"Forbidden"}})");
}
