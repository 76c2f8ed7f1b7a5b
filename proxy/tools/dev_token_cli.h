// `mcp-auth-gateway dev-token`: DEVELOPMENT ONLY. Mints an access token with
// the dev signing key so the gateway can be tried without an identity
// provider. Issuer and audience default to the config's first provider with
// a jwks_file and its first protected route.
#pragma once

#include <string>
#include <vector>

namespace mag::proxy {

int dev_token_main(const std::vector<std::string>& args);

}  // namespace mag::proxy
