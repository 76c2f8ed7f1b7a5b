// The one tool this server offers: `add`, the sum of two numbers. Its
// description (for tools/list) and its call (for tools/call), on jansson values.
#pragma once

#include <jansson.h>

#include <string>

#include "backend/jsonrpc.h"

namespace mag::backend {

inline constexpr const char* kAddToolName = "add";

// The Tool object listed by tools/list: name, title, description,
// inputSchema, outputSchema and annotations.
JsonPtr add_tool_definition();

// A CallToolResult for `arguments` (may be null), as compact JSON text. Bad
// input is not a protocol error: it yields {isError: true} with a text that
// says what is wrong, so that a model can correct its call (MCP 2025-11-25
// guidance). Integers add as integers (2+3 -> 5); anything else, or an
// integer overflow, as doubles; a non-finite sum is reported as an error
// result. A sum is rendered from constant text around the three numbers
// (each printed as jansson prints it): no jansson tree per call.
std::string call_add_tool(const json_t* arguments);

// Shortest text that reads back as the same number ("5", "2.75", "1e+300").
std::string format_number(const json_t* number);

}  // namespace mag::backend
