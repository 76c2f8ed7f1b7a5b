// libFuzzer target: raw upstream bytes into the HTTP/1.1 response codec (what
// a broken or hostile MCP server can send back). See http1_fuzz_driver.h.
#include "tests/fuzz/http1_fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mag::fuzz::drive_http1(mag::http::Http1Parser::Mode::kResponse, data, size);
  return 0;
}
