#include "backend/json_block_cache.h"

#include <jansson.h>
#include <malloc.h>

#include <array>
#include <cstdlib>

namespace mag::backend::json_block_cache {
namespace {

// Blocks are plain malloc blocks (no header), so memory that jansson hands
// out and a caller gives to free() directly (json_dumps' result, as
// common/ does) stays correct. A freed block's class is
// malloc_usable_size / 16: it can hold any request of that class.
constexpr size_t kGranule = 16;
constexpr size_t kClasses = kMaxCachedSize / kGranule;  // class c: requests of up to c * 16 bytes

struct FreeBlock {
  FreeBlock* next;
};

struct Cache {
  std::array<FreeBlock*, kClasses + 1> head{};
  std::array<size_t, kClasses + 1> count{};
  size_t total = 0;
};

Cache& cache() {
  static Cache instance;  // cached blocks are process memory until exit
  return instance;
}

}  // namespace

void* allocate(size_t size) noexcept {
  const size_t cls = size == 0 ? 1 : (size + kGranule - 1) / kGranule;
  if (cls > kClasses) return std::malloc(size);
  Cache& c = cache();
  if (FreeBlock* block = c.head[cls]) {
    c.head[cls] = block->next;
    --c.count[cls];
    --c.total;
    return block;
  }
  return std::malloc(cls * kGranule);
}

void release(void* block) noexcept {
  if (!block) return;
  const size_t cls = malloc_usable_size(block) / kGranule;
  Cache& c = cache();
  if (cls == 0 || cls > kClasses || c.count[cls] >= kMaxCachedPerClass) {
    std::free(block);
    return;
  }
  auto* free_block = static_cast<FreeBlock*>(block);
  free_block->next = c.head[cls];
  c.head[cls] = free_block;
  ++c.count[cls];
  ++c.total;
}

void install() {
  json_set_alloc_funcs(&allocate, &release);
}

size_t cached_blocks() {
  return cache().total;
}

}  // namespace mag::backend::json_block_cache
