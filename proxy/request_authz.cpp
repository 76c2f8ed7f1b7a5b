#include "proxy/request_authz.h"

#include "common/core/log.h"
#include "common/http/content_length.h"
#include "proxy/bearer_token.h"
#include "proxy/identity_headers.h"
#include "proxy/jsonrpc_inspect.h"
#include "proxy/origin_policy.h"
#include "proxy/www_authenticate.h"

namespace mag::proxy {
namespace {

// A JSON tools/list response is held whole to be rewritten; past this it is
// forwarded unfiltered rather than buffered further (the tools/call itself
// is still refused by the per-tool rules).
constexpr size_t kMaxHeldJson = 4 << 20;
const std::vector<std::string> kNoScopes;

bool is_json(const http::ResponseHead& head) {
  const std::string_view* type = head.headers.get("content-type");
  return type && type->rfind("application/json", 0) == 0;
}

bool is_event_stream(const http::ResponseHead& head) {
  const std::string_view* type = head.headers.get("content-type");
  return type && type->rfind("text/event-stream", 0) == 0;
}

LocalReply jsonrpc_reply(int status, int code, const std::string& message) {
  return json_document(status, jsonrpc_error_without_id(code, message));
}

}  // namespace

RequestAuthz::RequestAuthz(const config::Route& route, const config::Config& config,
                           std::shared_ptr<SessionBindings> sessions, const auth::Claims* claims)
    : route_(route), config_(config), sessions_(std::move(sessions)) {
  if (claims) claims_ = *claims;
}

RequestAuthz::RequestAuthz(const config::Route& route, const config::Config& config,
                           std::shared_ptr<SessionBindings> sessions,
                           std::optional<auth::Claims> claims)
    : route_(route), config_(config), sessions_(std::move(sessions)), claims_(std::move(claims)) {}

const std::string& RequestAuthz::principal() {
  if (principal_.empty()) {
    principal_ = claims_ ? principal_key(claims_->issuer, claims_->subject, claims_->client_id)
                         : "anonymous";
  }
  return principal_;
}

const std::vector<std::string>& RequestAuthz::scopes() const {
  return claims_ ? claims_->scopes : kNoScopes;
}

std::string RequestAuthz::session_key(std::string_view session_id) const {
  std::string key;
  key.reserve(route_.path_prefix.size() + 1 + session_id.size());
  key.append(route_.path_prefix).append(1, '\n').append(session_id);
  return key;
}

std::optional<LocalReply> RequestAuthz::check_head(const http::RequestHead& request) {
  if (const std::string_view* id = request.headers.get("mcp-session-id"); id && sessions_) {
    if (sessions_->check(session_key(*id), principal(), SessionBindings::Clock::now()) ==
        SessionBindings::Check::kMismatch) {
      log::limited(log::Level::kWarn, "authz session", "authz",
                   "session hijack attempt: " + request.method + " " + log::sanitize(request.path) +
                       " with a session bound to another "
                       "principal (sub=" +
                       log::sanitize(claims_ ? claims_->subject : "anonymous") + ") -> 404");
      return jsonrpc_reply(404, -32001, "Session not found");
    }
  }
  if (!route_.auth.enabled) return std::nullopt;
  wants_body_ = request.method == "POST" && mcp::needs_body(route_.auth);
  if (!wants_body_) return refuse(mcp::authorize_route(route_.auth, scopes()));
  if (const std::string_view* length = request.headers.get("content-length")) {
    const auto value = http::parse_content_length(*length);
    if (!value || *value > body_cap()) return body_too_large();
  }
  return std::nullopt;
}

LocalReply RequestAuthz::body_too_large() const {
  return jsonrpc_reply(
      413, -32600,
      "Request body too large to authorize (limit " + std::to_string(body_cap()) + " bytes)");
}

std::optional<LocalReply> RequestAuthz::check_body(std::string_view body) {
  mcp::InspectLimits limits;
  limits.max_bytes = body_cap();
  const mcp::InspectResult inspected = mcp::inspect_jsonrpc(body, limits);
  using Status = mcp::InspectResult::Status;
  switch (inspected.status) {
    case Status::kOk:
      break;
    case Status::kTooLarge:
      return body_too_large();
    case Status::kMalformed:
      return jsonrpc_reply(400, -32700, "Parse error: " + inspected.detail);
    default:
      return jsonrpc_reply(400, -32600, "Invalid Request: " + inspected.detail);
  }
  if (!inspected.messages.empty()) {
    // Bounded: these names come from the client and end up in the log.
    constexpr size_t kMaxLogged = 128;
    mcp_method_ = inspected.messages.front().method.substr(0, kMaxLogged);
    mcp_tool_ = inspected.messages.front().tool_name.substr(0, kMaxLogged);
    if (inspected.messages.size() > 1) {
      mcp_method_ += " +" + std::to_string(inspected.messages.size() - 1);
    }
  }
  for (const auto& message : inspected.messages) {
    if (message.method == "tools/list" && !message.id.empty()) {
      tools_list_ids_.push_back(message.id);
    }
  }
  return refuse(mcp::authorize_messages(route_.auth, scopes(), inspected.messages));
}

std::optional<LocalReply> RequestAuthz::refuse(const mcp::AuthzDecision& decision) const {
  using Verdict = mcp::AuthzDecision::Verdict;
  if (decision.verdict == Verdict::kAllow) return std::nullopt;
  const std::string who = claims_ ? log::sanitize(claims_->subject) : "anonymous";
  if (decision.verdict == Verdict::kForbidden) {
    log::limited(log::Level::kInfo, "authz forbidden", "authz",
                 "403 forbidden for sub=" + who + ": " + decision.description);
    LocalReply reply = json_error(403, "forbidden", decision.description);
    reply.head.headers.add("Cache-Control", "no-store");
    return reply;
  }
  auth::Challenge challenge;
  challenge.resource_metadata = route_.resource_metadata_url;
  challenge.scopes = decision.challenge_scopes;
  challenge.description = decision.description;
  int status = 403;
  if (claims_) {
    challenge.error = auth::ChallengeError::kInsufficientScope;
    log::limited(log::Level::kInfo, "authz insufficient_scope", "authz",
                 "403 insufficient_scope for sub=" + who + ": " + decision.description);
  } else {
    // Anonymous on an allow_missing route: a token is what is missing.
    status = 401;
    challenge.error = auth::ChallengeError::kNone;
  }
  LocalReply reply = json_document(status, auth::error_body_json(challenge));
  reply.head.headers.add("Cache-Control", "no-store");
  reply.head.headers.add("WWW-Authenticate", auth::www_authenticate_value(challenge));
  return reply;
}

void RequestAuthz::prepare_upstream(const http::RequestHead& downstream,
                                    http::RequestHead& upstream) const {
  upstream.headers.remove("origin");
  strip_identity_headers(config_, upstream.headers);
  if (!claims_) return;
  if (route_.claim_to_headers.empty() && route_.forward_payload_header.empty()) return;
  const auth::ExtractedToken token = auth::extract_bearer_token(downstream.headers);
  add_identity_headers(route_, token.token, upstream.headers);
}

bool RequestAuthz::on_response_head(const http::RequestHead& request, http::ResponseHead& head,
                                    bool end_stream) {
  const std::string_view* request_session = request.headers.get("mcp-session-id");
  if (sessions_ && route_.auth.enabled) {
    const auto now = SessionBindings::Clock::now();
    if (request_session && (head.status == 404 || (request.method == "DELETE" &&
                                                   head.status >= 200 && head.status < 300))) {
      sessions_->forget(session_key(*request_session));
    } else if (head.status >= 200 && head.status < 300) {
      // A new session (initialize), or one the gateway had not seen yet
      // (restart, eviction): the first principal to use it owns it.
      const std::string_view* id = head.headers.get("mcp-session-id");
      if (!id) id = request_session;
      if (id) sessions_->bind(session_key(*id), principal(), now);
    }
  }
  if (end_stream || tools_list_ids_.empty() || !mcp::may_filter_tools(route_.auth)) return false;
  auto allowed = [auth = &route_.auth, scopes = scopes()](const std::string& tool) {
    return mcp::tool_allowed(*auth, scopes, tool);
  };
  if (is_event_stream(head)) {
    mode_ = Mode::kSse;
    sse_ = std::make_unique<mcp::SseToolsListRewriter>(tools_list_ids_, allowed);
    return false;
  }
  if (!is_json(head)) return false;
  mode_ = Mode::kHoldJson;
  head.headers.remove("content-length");
  held_head_ = std::move(head);
  return true;
}

void RequestAuthz::forward_body(std::string_view data, bool end_stream,
                                http::ServerStream& stream) {
  if (mode_ == Mode::kSse) {
    std::string out;
    sse_->feed(data, &out);
    if (end_stream) sse_->finish(&out);
    if (!out.empty() || end_stream) stream.send_body(out, end_stream);
    return;
  }
  if (mode_ == Mode::kPass) {
    stream.send_body(data, end_stream);
    return;
  }
  held_body_.append(data);
  if (!end_stream && held_body_.size() <= kMaxHeldJson) return;
  mode_ = Mode::kPass;
  if (end_stream) {
    auto allowed = [this](const std::string& tool) {
      return mcp::tool_allowed(route_.auth, scopes(), tool);
    };
    if (auto filtered = mcp::filter_tools_list_json(held_body_, tools_list_ids_, allowed)) {
      held_body_ = std::move(*filtered);
    }
    held_head_.headers.set("Content-Length", std::to_string(held_body_.size()));
  }
  stream.send_head(std::move(held_head_), false);
  stream.send_body(held_body_, end_stream);
  held_body_.clear();
}

int64_t RequestAuthz::stream_deadline() const {
  if (!claims_ || claims_->expires_at <= 0) return 0;
  return claims_->expires_at + config_.authz.stream_expiry_grace.count();
}

}  // namespace mag::proxy
