#include <doctest/doctest.h>

#include "proxy/mcp/list_kind.h"

using mag::mcp::list_kind_of;
using mag::mcp::list_shape;
using mag::mcp::ListKind;

TEST_CASE("list_kind: each list method, its result member and entry key") {
  CHECK(list_kind_of("tools/list") == ListKind::kTools);
  CHECK(list_kind_of("prompts/list") == ListKind::kPrompts);
  CHECK(list_kind_of("resources/list") == ListKind::kResources);
  CHECK(list_kind_of("resources/templates/list") == ListKind::kResourceTemplates);
  CHECK_FALSE(list_kind_of("tools/call"));
  CHECK_FALSE(list_kind_of("Tools/list"));
  CHECK_FALSE(list_kind_of(""));
  CHECK(list_shape(ListKind::kTools).member == "tools");
  CHECK(list_shape(ListKind::kPrompts).key == "name");
  CHECK(list_shape(ListKind::kPrompts).use_method == "prompts/get");
  CHECK(list_shape(ListKind::kResources).key == "uri");
  CHECK(list_shape(ListKind::kResourceTemplates).member == "resourceTemplates");
  CHECK(list_shape(ListKind::kResourceTemplates).key == "uriTemplate");
  CHECK(list_shape(ListKind::kResourceTemplates).use_method == "resources/read");
}
