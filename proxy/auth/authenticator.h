// The jwt_authn step of the filter chain: token extraction, key lookup
// (possibly waiting for a JWKS fetch), verification against each of the
// route's providers, and a decision the stream turns into 401/400 or a pass.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_message.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/key_provider.h"
#include "proxy/auth/provider_view.h"
#include "proxy/config/config.h"

namespace mag::auth {

// The key providers of a snapshot (they run on the main loop), by name.
using KeyProviderMap = std::map<std::string, std::shared_ptr<KeyProvider>>;
// What a request thread authenticates with: its views of those providers.
using ProviderMap = std::map<std::string, std::shared_ptr<ProviderView>>;

struct AuthDecision {
  enum class Kind {
    kAllow,          // claims are valid for this route
    kNoCredentials,  // 401 challenge without error (RFC 6750 §3.1)
    kInvalidToken,   // 401 error="invalid_token"
    kBadRequest,     // 400 error="invalid_request" (several credentials)
  };
  Kind kind = Kind::kNoCredentials;
  Reason reason = Reason::kMalformed;  // for kInvalidToken
  std::string description;             // safe for headers and logs
  Claims claims;                       // for kAllow
  // For kInvalidToken: the provider whose check got furthest and gave
  // `reason` (empty when the header was malformed or no provider had keys).
  std::string provider;
};

struct AuthAttempt {
  std::optional<AuthDecision> decision;  // final, or
  std::unique_ptr<KeyWait> wait;         // call authenticate() again when it fires
};

VerifyPolicy policy_for(const config::Route& route, const config::Provider& provider);

// What a route checks a token against with one of its providers, in the
// route's order: built once per configuration snapshot rather than copied
// (issuer, audiences, algorithms) and re-joined per request.
struct RoutePolicy {
  std::string provider;       // name in `providers`
  VerifyPolicy policy;        // policy_for(route, that provider)
  std::string cache_context;  // token_cache_context(policy)
};
using RoutePolicies = std::vector<RoutePolicy>;
// Providers `config` does not define are left out (authenticate skips them).
RoutePolicies route_policies(const config::Route& route,
                             const std::map<std::string, config::Provider>& providers);

// `retry` is what the wait fires. `allow_refetch` is false on the second
// attempt so that an unknown kid costs at most one refetch per request.
AuthAttempt authenticate(const RoutePolicies& policies, const http::HeaderMap& headers,
                         const ProviderMap& providers, int64_t now_seconds, bool allow_refetch,
                         const std::function<void()>& retry);

// For the log: what the token of a kInvalidToken decision carried and
// what the route accepts (refusal_detail.h), e.g. `iss "https://a" is not
// accepted (accepted: "https://b" from provider dev)`. Never the token.
std::string describe_refusal(const AuthDecision& decision, const RoutePolicies& policies,
                             const http::HeaderMap& headers, const ProviderMap& providers,
                             std::string_view route_resource, int64_t now_seconds);

}  // namespace mag::auth
