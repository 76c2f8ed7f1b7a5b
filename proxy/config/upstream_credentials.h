// The gateway's own credentials for one upstream (`credentials: {headers:
// ...}`): MCP forbids passing the client's token through, so the gateway
// sends headers of its own. Loaded by proxy/config/credentials_loader.h.
#pragma once

#include <string>

namespace mag::config {

struct CredentialHeader {
  std::string name;   // as written in the file; a valid token, never a gateway-owned field
  std::string value;  // what is sent: a secret, never logged or dumped
  // The file form: the file's path (resolved against the config file's
  // directory), read at every load and so at every reload; empty when the
  // value is written in the config.
  std::string file;
  bool prefixed = false;  // the file form has a `prefix`
};

}  // namespace mag::config
