// GET /config_dump: the running config::Config as JSON, every field, with
// the defaults filled in (docs/operations.md, "/config_dump").
//
// The document has the shape of the YAML file and its keys are the YAML
// keys, so an operator can diff it against the file:
//   - durations are whole seconds (numbers), as the YAML takes them;
//   - a tool or method rule that refuses is the string "deny";
//   - optional values that are not set are null (prefix_rewrite, resource,
//     ca_file, ...);
//   - an upstream's `credentials` has `client_credentials` or
//     `token_exchange` only when that block is set;
//   - `auth: none` and `access_log: off` are objects with "enabled": false;
//   - relative file paths are resolved against the config file's directory.
// Values the gateway derives and the file does not hold have keys of their
// own: `effective_allowed_origins`, `effective_allowed_hosts`,
// `effective_workers`, `host_header_value`, `metadata_path`,
// `resource_metadata_url`, `identity_header_names`, `address_configured`,
// `private_key_pem`.
//
// Secrets never appear: access_log.identity_key is "[redacted]" when set,
// so is every upstream credential header's value (and a file form's
// prefix; its path is shown), so are an OAuth client's client_secret (its
// file form shows the path) and private_key_pem (the PEM read from
// private_key_file, whose path is shown), and any member whose name
// is_secret_field() matches is replaced by "[redacted]" at any depth.
#pragma once

#include <string>
#include <string_view>

#include "proxy/config/config.h"

namespace mag::proxy {

// The dump, indented JSON with a trailing newline.
std::string config_dump_json(const config::Config& config);

// Names of members whose values /config_dump replaces by "[redacted]".
bool is_secret_field(std::string_view name);

}  // namespace mag::proxy
