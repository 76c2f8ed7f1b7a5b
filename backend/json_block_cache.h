// A cache of freed jansson blocks for mcp-add-server. Each request
// parses a small JSON tree: ~30 blocks of a few sizes, allocated together and
// freed together. glibc's per-thread cache keeps only 7 blocks per size, so
// most of those frees took its slower paths (~170 instructions per
// malloc/free pair, ~9 % of a request's instructions). Here freed blocks wait
// in per-size lists, bounded, for the next request.
//
// Not thread-safe: for single-threaded processes only. Blocks are plain
// malloc() blocks, so installing it after jansson values exist is safe, and
// so is free() on memory jansson returned (json_dumps).
#pragma once

#include <cstddef>

namespace mag::backend::json_block_cache {

// The allocator pair given to json_set_alloc_funcs.
void* allocate(size_t size) noexcept;
void release(void* block) noexcept;

// json_set_alloc_funcs(allocate, release).
void install();

// Blocks of one size class kept for reuse at most (the rest go back to
// malloc), and the largest size cached; larger blocks pass through.
inline constexpr size_t kMaxCachedPerClass = 256;
inline constexpr size_t kMaxCachedSize = 256;

// Blocks currently cached (tests).
size_t cached_blocks();

}  // namespace mag::backend::json_block_cache
