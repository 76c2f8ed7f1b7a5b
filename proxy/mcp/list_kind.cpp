#include "proxy/mcp/list_kind.h"

#include <cstddef>
#include <iterator>

namespace mag::mcp {
namespace {

// In the order of ListKind.
constexpr ListShape kShapes[] = {
    {"tools/list", "tools", "name", "tools/call"},
    {"prompts/list", "prompts", "name", "prompts/get"},
    {"resources/list", "resources", "uri", "resources/read"},
    {"resources/templates/list", "resourceTemplates", "uriTemplate", "resources/read"},
};
static_assert(std::size(kShapes) == static_cast<size_t>(ListKind::kResourceTemplates) + 1);

}  // namespace

const ListShape& list_shape(ListKind kind) {
  return kShapes[static_cast<size_t>(kind)];
}

std::optional<ListKind> list_kind_of(std::string_view method) {
  for (size_t i = 0; i < std::size(kShapes); ++i) {
    if (kShapes[i].method == method) return static_cast<ListKind>(i);
  }
  return std::nullopt;
}

}  // namespace mag::mcp
