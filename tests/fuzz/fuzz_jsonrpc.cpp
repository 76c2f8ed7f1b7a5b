// libFuzzer target: MCP JSON-RPC request bodies through inspect_jsonrpc (the
// body the authorization rules read), plus the byte-level depth scanner.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/mcp/jsonrpc_inspect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  mag::mcp::InspectLimits limits;
  limits.max_bytes = 64 * 1024;
  const auto result = mag::mcp::inspect_jsonrpc(body, limits);
  using Status = mag::mcp::InspectResult::Status;
  if (result.status == Status::kOk) {
    if (result.messages.empty() || result.messages.size() > limits.max_batch) std::abort();
    if (!result.batch && result.messages.size() != 1) std::abort();
  } else if (!result.messages.empty()) {
    std::abort();  // a refused body must not hand out half-parsed messages
  }
  if (mag::mcp::json_nesting_depth(body, 64) > 65) std::abort();
  return 0;
}
