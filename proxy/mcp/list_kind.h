// The MCP list methods whose answers the gateway filters, and where each
// keeps its entries: which result member holds the array, which member of
// an entry the rules read, and which method an entry is for (an entry is
// listed only when the token could use it with that method).
#pragma once

#include <optional>
#include <string_view>

namespace mag::mcp {

enum class ListKind { kTools, kPrompts, kResources, kResourceTemplates };

struct ListShape {
  std::string_view method;      // "tools/list"
  std::string_view member;      // result member with the entries: "tools"
  std::string_view key;         // entry member the rules read: "name"
  std::string_view use_method;  // what an entry is for: "tools/call"
};

const ListShape& list_shape(ListKind kind);

// The kind `method` lists, or nullopt for any other method.
std::optional<ListKind> list_kind_of(std::string_view method);

}  // namespace mag::mcp
