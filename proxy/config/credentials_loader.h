// `upstreams.<name>.credentials`: headers the gateway sets on every request
// to that upstream, the client's copies of them removed first, and the
// gateway's own OAuth token for it (proxy/config/oauth_client_loader.h).
//
//   credentials:
//     headers:
//       Authorization: "Bearer ${GITHUB_TOKEN}"
//       X-API-Key: {file: /run/secrets/api_key, prefix: ""}
//     client_credentials: {...}   # or token_exchange: {...}
//
// At least one of the three; client_credentials and token_exchange are
// exclusive, and either one sets Authorization, so `headers` may not.
//
// A name must be a token (RFC 9110 §5.6.2) without '_', and not a field
// the gateway or the HTTP framing owns (proxy/config/header_names.h) nor any
// X-Forwarded-* field; names are unique case-insensitively. A value must be
// a valid field value: 1..8192 bytes, no control character, no leading or
// trailing whitespace. The file form reads a regular file of at most 64 KiB
// and drops one trailing newline. An error names the header and key path,
// never the value.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace mag::config {

inline constexpr size_t kMaxCredentialValueBytes = 8192;
inline constexpr size_t kMaxCredentialFileBytes = 64 * 1024;

class CredentialsLoader {
 public:
  explicit CredentialsLoader(const YamlReader& yaml) : yaml_(yaml) {}
  // `node` is the value of `credentials`, `path` its key path; sets the
  // upstream's credential_headers, client_credentials and token_exchange.
  void load(const YAML::Node& node, const std::string& path, Upstream* upstream) const;

 private:
  std::vector<CredentialHeader> headers(const YAML::Node& node, const std::string& path) const;
  std::string header_name(const YAML::Node& key, const std::string& name,
                          const std::string& path) const;
  CredentialHeader from_file(const YAML::Node& node, const std::string& path) const;
  void check_value(const YAML::Node& node, const std::string& path, std::string_view value) const;

  const YamlReader& yaml_;
};

// Why `value` cannot be sent as a header value, or an empty string.
std::string credential_value_error(std::string_view value);

// Reads a credential file: a regular file (never blocks on a FIFO) of at
// most kMaxCredentialFileBytes. False with the reason (errno's text or the
// size) in `error`; the content never appears in it.
bool read_credential_file(const std::string& file, std::string* content, std::string* error);

// read_credential_file, then one trailing newline (LF or CR LF) dropped, as
// `echo` or an editor leaves it; an empty value is refused.
bool read_credential_value(const std::string& file, std::string* value, std::string* error);

}  // namespace mag::config
