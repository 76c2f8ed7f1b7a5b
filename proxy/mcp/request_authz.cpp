#include "proxy/mcp/request_authz.h"

#include <algorithm>

#include "common/core/log.h"
#include "common/http/content_length.h"
#include "proxy/auth/bearer_token.h"
#include "proxy/auth/www_authenticate.h"
#include "proxy/mcp/identity_headers.h"
#include "proxy/mcp/jsonrpc_inspect.h"
#include "proxy/mcp/list_entry_authz.h"
#include "proxy/mcp/request_screen.h"
#include "proxy/router/local_reply.h"
#include "proxy/router/media_type.h"

namespace mag::proxy {
namespace {

// A list response is held whole to be rewritten; past this it is
// replaced by a JSON-RPC error rather than buffered further (never
// forwarded unfiltered).
constexpr size_t kMaxHeldJson = 4 << 20;
const std::vector<std::string> kNoScopes;

// No Content-Encoding, or exactly `identity`: the filter reads plain bytes.
bool identity_encoding(const http::ResponseHead& head) {
  const std::string_view* encoding = head.headers.get("content-encoding");
  return !encoding || (head.headers.count("content-encoding") == 1 &&
                       http::iequals(http::trim_ows(*encoding), "identity"));
}

LocalReply jsonrpc_reply(int status, int code, const std::string& message) {
  return json_document(status, jsonrpc_error_without_id(code, message));
}

// The access log's mcp_method / mcp_tool: the first message's method ("+N"
// appended for a batch of N+1) and tool name.
void names_for_log(const mcp::InspectResult& inspected, std::string* method, std::string* tool) {
  if (inspected.messages.empty()) return;
  // Bounded: these names come from the client and end up in the log.
  constexpr size_t kMaxLogged = 128;
  *method = inspected.messages.front().method.substr(0, kMaxLogged);
  *tool = inspected.messages.front().tool_name.substr(0, kMaxLogged);
  if (inspected.messages.size() > 1) {
    *method += " +" + std::to_string(inspected.messages.size() - 1);
  }
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

std::string RequestAuthz::session_key(size_t endpoint, std::string_view session_id) const {
  const config::Upstream& upstream = config_.upstreams.at(route_.upstream);
  if (endpoint >= upstream.endpoints.size()) {
    return proxy::session_key(upstream.host, upstream.port, session_id);
  }
  const config::UpstreamEndpoint& at = upstream.endpoints[endpoint];
  return proxy::session_key(at.host, at.port, session_id);
}

// The session is looked up under every endpoint of the route's upstream
// (round-robin may send the request to any of them): bound to another
// principal under any → 404; bound to this one under any → forwarded;
// bound under none → 404, or forwarded when `unknown_sessions: adopt`.
std::optional<LocalReply> RequestAuthz::check_session(const http::RequestHead& request,
                                                      std::string_view id) {
  std::vector<std::string> keys;
  const size_t endpoints = config_.upstreams.at(route_.upstream).endpoints.size();
  for (size_t i = 0; i < std::max<size_t>(1, endpoints); ++i) keys.push_back(session_key(i, id));
  const auto found = sessions_->check(keys, principal(), SessionBindings::Clock::now());
  if (found == SessionBindings::Check::kMatch) return std::nullopt;
  const std::string who = log::sanitize(claims_ ? claims_->subject : "anonymous");
  if (found == SessionBindings::Check::kMismatch) {
    log::limited(log::Level::kWarn, "authz session", "authz",
                 "session hijack attempt: " + request.method + " " + log::sanitize(request.path) +
                     " with a session bound to another principal (sub=" + who + ") -> 404");
  } else if (config_.authz.unknown_sessions == config::Config::Authz::UnknownSessions::kAdopt) {
    return std::nullopt;
  } else {
    log::limited(log::Level::kInfo, "authz unknown session", "authz",
                 "unknown session: " + request.method + " " + log::sanitize(request.path) +
                     " (sub=" + who + ") -> 404");
  }
  return jsonrpc_reply(404, -32001, "Session not found");
}

std::optional<LocalReply> RequestAuthz::check_head(const http::RequestHead& request) {
  // First, on every route: the session check below, the endpoint affinity
  // and the upstream must all read the same single value.
  if (auto refusal = screen_mcp_headers(request.headers)) {
    log::limited(log::Level::kInfo, "authz mcp headers", "authz",
                 request.method + " " + log::sanitize(request.path) +
                     " with two values of an MCP header -> 400");
    return refusal;
  }
  if (const std::string_view* id = request.headers.get("mcp-session-id");
      id && !id->empty() && sessions_) {
    if (auto refusal = check_session(request, *id)) return refusal;
  }
  // One reading of the body: where a rule reads it, a body the upstream
  // could decode otherwise than as UTF-8 JSON, or a body on another method
  // than POST, is refused. Before the `auth: none` return, so that no route
  // with body rules skips it.
  const bool reads_body = mcp::needs_body(route_.auth);
  if (reads_body) {
    if (auto refusal = screen_inspected_request(request)) {
      log::limited(log::Level::kInfo, "authz body screen", "authz",
                   request.method + " " + log::sanitize(request.path) +
                       " with a body the gateway does not read as the upstream would -> " +
                       std::to_string(refusal->head.status));
      return refusal;
    }
  }
  if (!route_.auth.enabled) return std::nullopt;
  // Another method than POST is held too, to see that no body comes
  // (HTTP/2 DATA without a Content-Length): body_cap() is then 0.
  wants_body_ = reads_body;
  body_must_be_empty_ = reads_body && request.method != "POST";
  if (!wants_body_ || body_must_be_empty_) {
    return refuse(mcp::authorize_route(route_.auth, scopes()));
  }
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

LocalReply RequestAuthz::body_over_cap() const {
  if (!body_must_be_empty_) return body_too_large();
  return jsonrpc_reply(400, -32600, "Invalid Request: only a POST request may have a body");
}

std::optional<LocalReply> RequestAuthz::check_body(std::string_view body) {
  if (body_must_be_empty_) {
    // The route scopes were checked with the head.
    if (body.empty()) return std::nullopt;
    return body_over_cap();
  }
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
  names_for_log(inspected, &mcp_method_, &mcp_tool_);
  for (const auto& message : inspected.messages) {
    const auto kind = mcp::list_kind_of(message.method);
    if (kind && !message.id.empty() && mcp::may_filter_list(route_.auth, *kind)) {
      list_requests_.push_back({message.id, *kind});
    }
  }
  return refuse(mcp::authorize_messages(route_.auth, scopes(), inspected.messages));
}

void RequestAuthz::read_names(std::string_view complete_body) {
  // Where a rule reads the body, check_body() has named it (or refused it).
  if (wants_body_ || !mcp_method_.empty() || complete_body.empty()) return;
  if (complete_body.size() > config_.authz.max_inspected_body) return;
  mcp::InspectLimits limits;
  limits.max_bytes = config_.authz.max_inspected_body;
  const mcp::InspectResult inspected = mcp::inspect_jsonrpc(complete_body, limits);
  if (inspected.status == mcp::InspectResult::Status::kOk) {
    names_for_log(inspected, &mcp_method_, &mcp_tool_);
  }
}

std::optional<LocalReply> RequestAuthz::refuse(const mcp::AuthzDecision& decision) const {
  using Verdict = mcp::AuthzDecision::Verdict;
  if (decision.verdict == Verdict::kAllow) return std::nullopt;
  const std::string who = claims_ ? log::sanitize(claims_->subject) : "anonymous";
  if (decision.verdict == Verdict::kForbidden) {
    log::limited(log::Level::kInfo, "authz forbidden", "authz",
                 "403 forbidden for sub=" + who + ": " + decision.description);
    return json_error(403, "forbidden", decision.description);
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
  if (filters_lists()) upstream.headers.set("Accept-Encoding", "identity");
  strip_identity_headers(config_, upstream.headers);
  if (!claims_) return;
  if (route_.claim_to_headers.empty() && route_.forward_payload_header.empty()) return;
  const auth::ExtractedToken token = auth::extract_bearer_token(downstream.headers);
  add_identity_headers(route_, token.token, upstream.headers);
}

bool RequestAuthz::on_response_head(const http::RequestHead& request, http::ResponseHead& head,
                                    bool end_stream) {
  const std::string_view* request_session = request.headers.get("mcp-session-id");
  if (request_session && request_session->empty()) request_session = nullptr;
  if (sessions_ && endpoint_) {
    const auto now = SessionBindings::Clock::now();
    if (request_session && (head.status == 404 || (request.method == "DELETE" &&
                                                   head.status >= 200 && head.status < 300))) {
      sessions_->forget(session_key(*endpoint_, *request_session), now);
    } else if (head.status >= 200 && head.status < 300) {
      // A new session (initialize) belongs to whoever opened it; a known
      // one is refreshed (check_session let only its owner through, or,
      // with `unknown_sessions: adopt`, the first principal to use it).
      const std::string_view* id = head.headers.get("mcp-session-id");
      if (!id || id->empty()) id = request_session;
      if (id) sessions_->bind(session_key(*endpoint_, *id), principal(), now);
    }
  }
  if (end_stream || !filters_lists()) return false;
  // A rewritten body has another length, whatever the framing.
  head.headers.remove("content-length");
  if (identity_encoding(head) && is_event_stream(head.headers)) {
    mode_ = Mode::kSse;
    sse_ = std::make_unique<mcp::SseListRewriter>(list_requests_, entry_predicate());
    return false;
  }
  mode_ = identity_encoding(head) ? Mode::kHoldJson : Mode::kRefuse;
  held_head_ = std::move(head);
  return true;
}

mcp::ListEntryPredicate RequestAuthz::entry_predicate() const {
  return [auth = &route_.auth, scopes = scopes()](mcp::ListKind kind, const std::string& key) {
    return mcp::list_entry_allowed(*auth, scopes, kind, key);
  };
}

void RequestAuthz::forward_body(std::string_view data, bool end_stream,
                                http::ServerStream& stream) {
  if (mode_ == Mode::kSse) {
    std::string out;
    const size_t refused_before = sse_->refused_events();
    sse_->feed(data, &out);
    if (end_stream) sse_->finish(&out);
    if (sse_->refused_events() != refused_before) {
      log::limited(log::Level::kWarn, "authz list unfilterable", "authz",
                   "an event from upstream " + route_.upstream +
                       " could not be filtered: replaced with a JSON-RPC error");
    }
    if (!out.empty() || end_stream) stream.send_body(out, end_stream);
    return;
  }
  if (mode_ == Mode::kPass) {
    stream.send_body(data, end_stream);
    return;
  }
  if (mode_ == Mode::kRefuse) {
    if (end_stream) send_refusal("compressed or over the size cap", stream);
    return;
  }
  held_body_.append(data);
  if (held_body_.size() > kMaxHeldJson) {
    mode_ = Mode::kRefuse;
    std::string().swap(held_body_);  // frees the buffer: the rest is dropped
    if (end_stream) send_refusal("over the size cap", stream);
    return;
  }
  if (!end_stream) return;
  if (held_body_.empty()) {  // no message, nothing to filter
    send_held(held_body_, stream);
    return;
  }
  const mcp::ListFiltered filtered =
      mcp::filter_list_json(held_body_, list_requests_, entry_predicate());
  switch (filtered.outcome) {
    case mcp::ListFiltered::Outcome::kUnchanged:
      send_held(held_body_, stream);
      break;
    case mcp::ListFiltered::Outcome::kRewritten:
      send_held(filtered.text, stream);
      break;
    case mcp::ListFiltered::Outcome::kUnfilterable:
      send_refusal("not a JSON document the filter can read", stream);
      break;
  }
  std::string().swap(held_body_);
}

void RequestAuthz::send_held(std::string_view body, http::ServerStream& stream) {
  mode_ = Mode::kPass;
  held_head_.headers.set("Content-Length", std::to_string(body.size()));
  stream.send_head(std::move(held_head_), false);
  stream.send_body(body, true);
}

// The upstream's status stays (the access log has it already); the body
// becomes a JSON-RPC error for every filtered list request.
void RequestAuthz::send_refusal(std::string_view why, http::ServerStream& stream) {
  log::limited(log::Level::kWarn, "authz list unfilterable", "authz",
               "list response from upstream " + route_.upstream + " " + std::string(why) +
                   ": replaced with a JSON-RPC error");
  held_head_.headers.remove("content-encoding");
  held_head_.headers.set("Content-Type", "application/json");
  send_held(mcp::list_error_json(list_requests_), stream);
}

int64_t RequestAuthz::stream_deadline() const {
  if (!claims_ || claims_->expires_at <= 0) return 0;
  return claims_->expires_at + config_.authz.stream_expiry_grace.count();
}

}  // namespace mag::proxy
