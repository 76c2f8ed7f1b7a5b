// libFuzzer target: raw client bytes into the HTTP/1.1 request codec (what
// every client of the gateway can send). See http1_fuzz_driver.h.
#include "tests/fuzz/http1_fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mag::fuzz::drive_http1(mag::http::Http1Parser::Mode::kRequest, data, size);
  return 0;
}
