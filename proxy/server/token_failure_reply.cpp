#include "proxy/server/token_failure_reply.h"

#include "proxy/auth/www_authenticate.h"

namespace mag::proxy {
namespace {

using Outcome = credentials::TokenAnswer::Outcome;

LocalReply challenge_reply(const config::Route& route, auth::ChallengeError error,
                           const std::string& description) {
  auth::Challenge challenge;
  challenge.error = error;
  challenge.description = description;
  challenge.resource_metadata = route.resource_metadata_url;
  challenge.scopes = route.auth.scopes;
  LocalReply reply = json_document(401, auth::error_body_json(challenge));
  reply.head.headers.add("Cache-Control", "no-store");
  reply.head.headers.add("WWW-Authenticate", auth::www_authenticate_value(challenge));
  return reply;
}

LocalReply jsonrpc_reply(int status, const std::string& message) {
  LocalReply reply = json_document(status, jsonrpc_error_without_id(-32000, message));
  reply.head.headers.add("Cache-Control", "no-store");
  return reply;
}

}  // namespace

LocalReply token_failure_reply(const credentials::TokenAnswer& answer, bool exchange,
                               const config::Route& route) {
  switch (answer.outcome) {
    case Outcome::kRefused:
      if (!exchange) {
        return jsonrpc_reply(502,
                             "Bad Gateway: the authorization server refused the "
                             "gateway's token request for this MCP server");
      }
      if (answer.reason == "invalid_grant") {
        return challenge_reply(route, auth::ChallengeError::kInvalidToken,
                               "The access token cannot be exchanged for this MCP server");
      }
      return jsonrpc_reply(403,
                           "Forbidden: the authorization server refused a token for "
                           "this MCP server");
    case Outcome::kClientRejected:
      return jsonrpc_reply(502,
                           "Bad Gateway: the authorization server rejected the "
                           "gateway's client credentials");
    default:
      if (answer.reason == "malformed") {
        return jsonrpc_reply(502,
                             "Bad Gateway: the authorization server's answer is not a "
                             "token response");
      }
      {
        LocalReply reply = jsonrpc_reply(
            503, answer.reason == "busy"
                     ? "Service Unavailable: too many token exchanges are waiting for the "
                       "authorization server"
                     : "Service Unavailable: no token for this MCP server (authorization "
                       "server unavailable)");
        reply.head.headers.add("Retry-After", "2");
        return reply;
      }
  }
}

LocalReply no_subject_token_reply(const config::Route& route) {
  return challenge_reply(route, auth::ChallengeError::kNone, "");
}

}  // namespace mag::proxy
