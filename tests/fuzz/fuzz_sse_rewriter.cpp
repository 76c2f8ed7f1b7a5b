// libFuzzer target: an upstream SSE body through the list rewriter.
// The first input byte chooses the read size (1-64 bytes); the rest is the
// stream. What the rewriter sends is what a client reads, so it must be a
// fixed point: read again (in one piece, without a size cap) it is neither
// rewritten nor refused, i.e. no event in it still lists a refused entry for
// a pending id and none is unreadable. The first pass has a small cap (256
// bytes) so that the oversized path is reached; the second has none, as
// the LF of a CRLF split by a read may be dropped and an event at the cap
// would otherwise count one byte more.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/mcp/sse_list_rewriter.h"

namespace {

// Tools and prompts named rm, and resources under secret://, are refused.
bool allowed(mag::mcp::ListKind kind, const std::string& key) {
  if (kind == mag::mcp::ListKind::kResources) return !key.starts_with("secret://");
  return key != "rm";
}

std::string rewrite(std::string_view input, size_t step, size_t cap) {
  mag::mcp::SseListRewriter rewriter({{"1", mag::mcp::ListKind::kTools},
                                      {"\"a\"", mag::mcp::ListKind::kPrompts},
                                      {"2", mag::mcp::ListKind::kResources}},
                                     allowed, cap);
  std::string out;
  for (size_t i = 0; i < input.size(); i += step) rewriter.feed(input.substr(i, step), &out);
  rewriter.finish(&out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string once = rewrite(stream, step, 256);
  if (rewrite(once, once.size() + 1, once.size() + 1) != once) std::abort();
  return 0;
}
