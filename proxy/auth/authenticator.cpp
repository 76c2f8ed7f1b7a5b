#include "proxy/auth/authenticator.h"

#include "proxy/auth/bearer_token.h"
#include "proxy/auth/refusal_detail.h"

#include <algorithm>
#include <vector>

namespace mag::auth {
namespace {

// How far verification got before failing: with several providers, the
// failure to report is the one from the provider that got furthest (the
// one whose keys signed the token), not "unknown key" from the others.
int stage(Reason r) {
  switch (r) {
    case Reason::kOk:
      return 5;
    case Reason::kWrongIssuer:
    case Reason::kWrongAudience:
    case Reason::kExpired:
    case Reason::kNotYetValid:
    case Reason::kIssuedInFuture:
    case Reason::kMissingClaim:
    case Reason::kInvalidClaim:
      return 4;
    case Reason::kBadSignature:
      return 3;
    case Reason::kUnknownKid:
      return 2;
    default:
      return 1;
  }
}

AuthDecision invalid(Reason reason, std::string description = {}) {
  AuthDecision d;
  d.kind = AuthDecision::Kind::kInvalidToken;
  d.reason = reason;
  d.description = description.empty() ? std::string(reason_description(reason)) : description;
  return d;
}

}  // namespace

VerifyPolicy policy_for(const config::Route& route, const config::Provider& provider) {
  VerifyPolicy policy;
  policy.issuer = provider.issuer;
  policy.audiences.push_back(route.resource);
  policy.audiences.insert(policy.audiences.end(), provider.audiences.begin(),
                          provider.audiences.end());
  policy.algorithms = provider.algorithms;
  policy.clock_skew_seconds = provider.clock_skew.count();
  policy.token_type = provider.token_type == "at+jwt" ? TokenTypePolicy::kAtJwt
                      : provider.token_type == "any"  ? TokenTypePolicy::kAny
                                                      : TokenTypePolicy::kJwtOrAtJwt;
  policy.require_exp = provider.require_exp;
  policy.max_lifetime_seconds = provider.max_lifetime.count();
  policy.required_claims = provider.required_claims;
  return policy;
}

RoutePolicies route_policies(const config::Route& route,
                             const std::map<std::string, config::Provider>& providers) {
  RoutePolicies policies;
  for (const auto& name : route.auth.providers) {
    auto it = providers.find(name);
    if (it == providers.end()) continue;
    RoutePolicy entry{name, policy_for(route, it->second), {}};
    entry.cache_context = token_cache_context(entry.policy);
    policies.push_back(std::move(entry));
  }
  return policies;
}

AuthAttempt authenticate(const RoutePolicies& policies, const http::HeaderMap& headers,
                         const ProviderMap& providers, int64_t now_seconds, bool allow_refetch,
                         const std::function<void()>& retry) {
  const ExtractedToken extracted = extract_bearer_token(headers);
  switch (extracted.presence) {
    case TokenPresence::kAbsent:
      return {AuthDecision{}, nullptr};
    case TokenPresence::kMultiple: {
      AuthDecision d;
      d.kind = AuthDecision::Kind::kBadRequest;
      d.description = "Only one Authorization header with one bearer token is allowed";
      return {d, nullptr};
    }
    case TokenPresence::kMalformed:
      return {invalid(Reason::kMalformed, "Malformed Authorization header"), nullptr};
    case TokenPresence::kPresent:
      break;
  }

  std::optional<VerifyResult> best;
  const std::string* best_provider = nullptr;
  std::vector<ProviderView*> unknown_kid;
  for (const auto& route_policy : policies) {
    auto it = providers.find(route_policy.provider);
    if (it == providers.end()) continue;
    ProviderView& provider = *it->second;
    if (auto wait = provider.wait_for_first_keys(retry)) return {std::nullopt, std::move(wait)};
    auto keys = provider.keys();
    if (!keys) continue;  // no keys at all: this provider cannot vouch for anything
    // Through this thread's verified-token cache (provider_view.h).
    VerifyResult result = provider.verify(extracted.token, route_policy.policy,
                                          route_policy.cache_context, now_seconds);
    if (result.ok()) {
      AuthDecision d;
      d.kind = AuthDecision::Kind::kAllow;
      d.reason = Reason::kOk;
      d.claims = std::move(result.claims);
      return {std::move(d), nullptr};
    }
    if (result.reason == Reason::kUnknownKid) unknown_kid.push_back(&provider);
    if (!best || stage(result.reason) > stage(best->reason)) {
      best = std::move(result);
      best_provider = &route_policy.provider;
    }
  }
  // Only when no provider accepted: the keys may have rotated.
  if (allow_refetch) {
    for (ProviderView* provider : unknown_kid) {
      if (auto wait = provider->refresh_for_unknown_kid(retry))
        return {std::nullopt, std::move(wait)};
    }
  }
  if (!best) return {invalid(Reason::kUnknownKid, "No signing keys are available"), nullptr};
  AuthDecision refused = invalid(best->reason);
  refused.provider = *best_provider;
  return {std::move(refused), nullptr};
}

std::string describe_refusal(const AuthDecision& decision, const RoutePolicies& policies,
                             const http::HeaderMap& headers, const ProviderMap& providers,
                             std::string_view route_resource, int64_t now_seconds) {
  const ExtractedToken extracted = extract_bearer_token(headers);
  if (extracted.presence != TokenPresence::kPresent) {
    return "the Authorization header is not one \"Bearer <token>\"";
  }
  const auto policy = std::find_if(policies.begin(), policies.end(), [&](const RoutePolicy& p) {
    return p.provider == decision.provider;
  });
  if (decision.provider.empty() || policy == policies.end()) {
    return "no provider of the route has signing keys";
  }
  const auto view = providers.find(decision.provider);
  const KeySet* keys = view == providers.end() ? nullptr : view->second->keys().get();
  const RefusalDetail detail(extracted.token, policy->policy.max_token_bytes);
  return detail.describe(decision.reason, {decision.provider, policy->policy, route_resource, keys},
                         now_seconds);
}

}  // namespace mag::auth
