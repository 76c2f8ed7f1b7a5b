// Whether two configurations of an upstream's OAuth credentials are the
// same, secrets and keys included (a rotated secret file makes a new
// source): a reload carries a token source over, with its cached tokens,
// only then.
#pragma once

#include "proxy/config/upstream_credentials.h"

namespace mag::credentials {

bool same_credentials(const config::ClientCredentials& a, const config::ClientCredentials& b);
bool same_credentials(const config::TokenExchange& a, const config::TokenExchange& b);

}  // namespace mag::credentials
