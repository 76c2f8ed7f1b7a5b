#include "proxy/server/proxy_stream.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "common/core/log.h"
#include "proxy/auth/bearer_token.h"
#include "proxy/auth/www_authenticate.h"
#include "proxy/router/header_forwarding.h"
#include "proxy/router/local_reply.h"
#include "proxy/router/media_type.h"
#include "proxy/router/origin_policy.h"
#include "proxy/router/path_rewrite.h"
#include "proxy/router/protected_resource_metadata.h"
#include "proxy/router/route_table.h"
#include "proxy/router/upstream_affinity.h"
#include "proxy/server/token_failure_reply.h"

namespace mag::proxy {
namespace {

// Request bodies that arrive while the token is being checked are held, up
// to this much; the codec's body limit bounds them too.
constexpr size_t kMaxPendingBody = 1 << 20;

int status_for(http::ClientError error) {
  switch (error) {
    case http::ClientError::kConnectTimeout:
    case http::ClientError::kResponseTimeout:
      return 504;
    case http::ClientError::kPoolExhausted:
      return 503;
    default:
      return 502;
  }
}

// The metric label of a TLS failure: a fixed set of three.
std::string_view tls_reason(http::ClientError error) {
  switch (error) {
    case http::ClientError::kTlsVerify:
      return "verify";
    case http::ClientError::kTlsProtocol:
      return "protocol";
    default:
      return "handshake";
  }
}

// The decision as the access log and metrics see it: a bounded reason code,
// the token's subject and client, never the token.
void record_auth_decision(RequestTelemetry& telemetry, const auth::AuthDecision& decision) {
  using Kind = auth::AuthDecision::Kind;
  switch (decision.kind) {
    case Kind::kAllow:
      telemetry.on_auth(true, "", decision.claims.subject, decision.claims.client_id);
      return;
    case Kind::kNoCredentials:
      telemetry.on_auth(false, "no_credentials", "", "");
      return;
    case Kind::kBadRequest:
      telemetry.on_auth(false, "invalid_request", "", "");
      return;
    default:
      telemetry.on_auth(false, auth::reason_code(decision.reason), "", "");
      return;
  }
}

}  // namespace

ProxyStream::ProxyStream(http::ServerStream& stream, std::shared_ptr<const WorkerSnapshot> snapshot)
    : stream_(stream), snapshot_(std::move(snapshot)), telemetry_(snapshot_->access_log) {}

ProxyStream::~ProxyStream() = default;

void ProxyStream::on_request_head(http::RequestHead&& head, bool end_stream) {
  request_ = std::move(head);
  request_ended_ = end_stream;
  telemetry_.on_request(request_);
  run_filters();
}

void ProxyStream::on_request_body(std::string_view data, bool end_stream) {
  if (state_ == State::kForwarding && upstream_) {
    upstream_->send_body(data, end_stream);
    return;
  }
  if (state_ == State::kBufferingBody) {  // mcp_authz reads the whole body first
    pending_body_.append(data);
    request_ended_ = end_stream;
    if (pending_body_.size() > authz_->body_cap()) {
      send_local(authz_->body_over_cap());
    } else if (end_stream) {
      finish_body_check();
    }
    return;
  }
  request_ended_ = end_stream;
  if (state_ == State::kReplied) return;  // the answer is already out; drop the rest
  pending_body_.append(data);
  if (pending_body_.size() > kMaxPendingBody) stream_.pause_request_body(true);
}

void ProxyStream::on_reset() {
  // The client is gone: cancel whatever is in flight. Destroying the
  // ClientStream closes a half-used upstream connection.
  telemetry_.on_client_reset();
  wait_.reset();
  token_wait_.reset();
  upstream_.reset();
  expiry_timer_.reset();
  state_ = State::kReplied;
}

void ProxyStream::on_refused(int status) {
  // The server answered the client itself (400/413 from the codec, 408 for
  // a body that did not arrive) before any response head went out: cancel
  // as for a reset, but log the status the client got, not 499.
  on_reset();
  telemetry_.on_response_head(status, false);
  telemetry_.on_response_end();
}

void ProxyStream::on_drained() {
  if (upstream_) upstream_->pause_response(false);
}

void ProxyStream::send_local(LocalReply reply) {
  add_cors_headers(snapshot_->cors, request_, reply.head);
  const bool head_only = request_.method == "HEAD" || reply.body.empty();
  send_reply(std::move(reply.head), reply.body, head_only);
}

void ProxyStream::send_reply(http::ResponseHead head, std::string_view body, bool head_only) {
  state_ = State::kReplied;
  telemetry_.on_local_reply(head);
  if (!head_only) telemetry_.on_body(body.size());
  telemetry_.on_response_end();
  stream_.send_head(std::move(head), head_only);
  if (!head_only) stream_.send_body(body, true);
}

void ProxyStream::run_filters() {
  if (!path_is_canonical(request_.path)) {
    send_local(json_error(400, "invalid_request", "Request path is not in canonical form"));
    return;
  }
  if (is_preflight(request_)) {
    send_reply(preflight_response(snapshot_->cors, request_), {}, true);
    return;
  }
  if (serve_metadata()) return;
  if (!check_origin_and_host()) return;

  route_ = snapshot_->find_route(request_.path);
  if (!route_) {
    send_local(json_error(404, "not_found", "No route for this path"));
    return;
  }
  telemetry_.set_route(route_->config->path_prefix);
  if (!route_->config->auth.enabled) {
    authorize(std::nullopt);
    return;
  }
  run_authentication(true);
}

bool ProxyStream::serve_metadata() {
  const config::Route* route = find_metadata_route(request_.path, *snapshot_->config);
  if (!route) return false;
  telemetry_.set_route("prm");
  if (request_.method != "GET" && request_.method != "HEAD") {
    LocalReply reply = json_error(405, "method_not_allowed", "Use GET");
    reply.head.headers.add("Allow", "GET, HEAD, OPTIONS");
    send_local(std::move(reply));
    return true;
  }
  LocalReply reply =
      json_document(200, protected_resource_metadata_json(*route, *snapshot_->config));
  reply.head.headers.add("Cache-Control", "public, max-age=3600");
  // Discovery happens before any login, from any origin.
  reply.head.headers.add("Access-Control-Allow-Origin", "*");
  send_reply(std::move(reply.head), reply.body, request_.method == "HEAD");
  return true;
}

void ProxyStream::run_authentication(bool allow_refetch) {
  state_ = State::kFiltering;
  // The route's policies, made with the snapshot (gateway.cpp).
  auth::AuthAttempt attempt =
      auth::authenticate(*route_->policies, request_.headers, snapshot_->providers,
                         static_cast<int64_t>(std::time(nullptr)), allow_refetch, [this] {
                           // Runs on this worker's loop once the provider's fetch has finished;
                           // `wait_` is still ours (destroying it would cancel this very call).
                           auto finished_wait = std::move(wait_);
                           run_authentication(false);
                         });
  if (!attempt.decision) {
    state_ = State::kWaitingForKeys;
    wait_ = std::move(attempt.wait);
    return;
  }
  auth::AuthDecision& decision = *attempt.decision;
  record_auth_decision(telemetry_, decision);
  if (decision.kind == auth::AuthDecision::Kind::kNoCredentials &&
      route_->config->auth.allow_missing) {
    authorize(std::nullopt);
    return;
  }
  if (decision.kind != auth::AuthDecision::Kind::kAllow) {
    reply_unauthorized(decision);
    return;
  }
  // Validity (signature, exp, aud, iss) is settled: only now do scopes count.
  subject_validated_ = true;
  subject_expires_at_ = decision.claims.expires_at;
  authorize(std::move(decision.claims));
}

void ProxyStream::reply_unauthorized(const auth::AuthDecision& decision) {
  using Kind = auth::AuthDecision::Kind;
  auth::Challenge challenge;
  challenge.resource_metadata = route_->config->resource_metadata_url;
  challenge.scopes = route_->config->auth.scopes;
  int status = 401;
  std::string outcome;
  switch (decision.kind) {
    case Kind::kNoCredentials:
      challenge.error = auth::ChallengeError::kNone;
      outcome = "no_credentials";
      break;
    case Kind::kBadRequest:
      status = 400;
      challenge.error = auth::ChallengeError::kInvalidRequest;
      challenge.description = decision.description;
      outcome = "invalid_request";
      break;
    default:
      challenge.error = auth::ChallengeError::kInvalidToken;
      challenge.description = decision.description;
      outcome = std::string(auth::reason_code(decision.reason));
      break;
  }
  // Any client can trigger this once per request: rate-limited per outcome
  // and route (the access log, when enabled, still has one line per
  // request). A refused token's line says what it carried and what the
  // route accepts, built only when the line is written; the client's
  // answer keeps the fixed description.
  const std::string& route = route_->config->path_prefix;
  std::string line = request_.method + " " + log::sanitize(request_.path) + " -> " +
                     std::to_string(status) + " " + outcome;
  log::limited(log::Level::kInfo, "authn " + outcome + " " + route, "authn", [&] {
    if (decision.kind != Kind::kInvalidToken) return std::move(line);
    return line + " (route " + log::sanitize(route) + "): " +
           auth::describe_refusal(decision, *route_->policies, request_.headers,
                                  snapshot_->providers, route_->config->resource,
                                  static_cast<int64_t>(std::time(nullptr)));
  });
  LocalReply reply = json_document(status, auth::error_body_json(challenge));
  reply.head.headers.add("Cache-Control", "no-store");
  reply.head.headers.add("WWW-Authenticate", auth::www_authenticate_value(challenge));
  send_local(std::move(reply));
}

namespace {

// The Host the upstream sees (`host_header`, docs/configuration.md).
std::string upstream_host_header(const config::Upstream& upstream,
                                 const http::RequestHead& request) {
  if (upstream.host_header == config::Upstream::HostHeader::kClient) {
    // HTTP/2's :authority arrives as Host; every accepted request has one.
    if (const std::string_view* host = request.headers.get("host")) return std::string(*host);
  }
  return upstream.host_header_value;
}

}  // namespace

bool ProxyStream::obtain_upstream_token() {
  credentials::TokenView& tokens = *route_->tokens;
  std::string_view subject;
  if (tokens.needs_subject_token()) {
    // Only the token this request was authenticated with is exchanged.
    const auth::ExtractedToken extracted = auth::extract_bearer_token(request_.headers);
    if (!subject_validated_ || extracted.presence != auth::TokenPresence::kPresent) {
      telemetry_.on_upstream_token_failure(tokens.grant(), "no_subject_token");
      send_local(no_subject_token_reply(*route_->config));
      return false;
    }
    subject = extracted.token;
  }
  credentials::TokenAnswer failure;
  switch (tokens.lookup(subject, credentials::wall_clock_ms(), &upstream_token_, &failure)) {
    case credentials::TokenLookup::kHit:
      token_ready_ = true;
      return true;
    case credentials::TokenLookup::kFailed:
      reply_token_failure(failure);
      return false;
    case credentials::TokenLookup::kMiss:
      break;
  }
  state_ = State::kWaitingForToken;
  token_wait_ =
      tokens.obtain(subject, subject_expires_at_, [this](const credentials::TokenAnswer& answer) {
        // Runs on this worker's loop; `token_wait_` is still ours
        // (destroying it would cancel this very call).
        auto finished_wait = std::move(token_wait_);
        on_upstream_token(answer);
      });
  return false;
}

void ProxyStream::on_upstream_token(const credentials::TokenAnswer& answer) {
  if (answer.outcome != credentials::TokenAnswer::Outcome::kIssued) {
    reply_token_failure(answer);
    return;
  }
  upstream_token_ = answer.header;
  token_ready_ = true;
  forward();
}

void ProxyStream::reply_token_failure(const credentials::TokenAnswer& answer) {
  const credentials::TokenView& tokens = *route_->tokens;
  telemetry_.on_upstream_token_failure(
      tokens.grant(), answer.reason.empty() ? credentials::outcome_label(answer.outcome)
                                            : std::string_view(answer.reason));
  send_local(token_failure_reply(answer, tokens.needs_subject_token(), *route_->config));
}

void ProxyStream::forward() {
  if (route_->tokens && !token_ready_ && !obtain_upstream_token()) return;
  const config::Upstream& upstream_config = *route_->upstream;
  ForwardContext context;
  context.peer_address = stream_.connection().peer_address;
  context.tls = stream_.connection().tls;
  context.upstream_host = upstream_host_header(upstream_config, request_);
  context.upstream_path = upstream_path(*route_->config, upstream_config, request_.path);
  context.request_id = telemetry_.request_id();
  context.credentials = upstream_config.credential_headers;
  telemetry_.on_forward();
  http::RequestHead upstream_request = make_upstream_request(request_, context);
  if (authz_) authz_->prepare_upstream(request_, upstream_request);
  if (!upstream_token_.empty()) upstream_request.headers.set("Authorization", upstream_token_);

  state_ = State::kForwarding;
  const bool body_done = request_ended_;
  std::string body = std::move(pending_body_);
  pending_body_.clear();
  if (authz_ && body_done && request_.method == "POST" && authz_->mcp_method().empty()) {
    // Not read by a rule, but already whole in memory: its names for the log.
    authz_->read_names(body);
    telemetry_.set_mcp(authz_->mcp_method(), authz_->mcp_tool());
  }
  if (body_done && !body.empty() && !upstream_request.headers.has("content-length")) {
    // A chunked request that was fully read while we waited: send it with a length.
    upstream_request.headers.set("Content-Length", std::to_string(body.size()));
  }
  // Several endpoints: each gets its own Host from the pool, and
  // a request of a known session goes to the endpoint that holds it.
  pool_ = route_->pool.get();
  http::StartOptions start = route_->start;
  if (pool_->endpoints()->size() > 1) {
    if (upstream_config.host_header == config::Upstream::HostHeader::kUpstream) {
      upstream_request.headers.remove("Host");
    }
    start.endpoint = affine_endpoint(*pool_->endpoints(), request_);
  }
  pinned_ = start.endpoint.has_value();
  upstream_ = pool_->start(std::move(upstream_request), body_done && body.empty(), *this, start);
  if (!upstream_) return;  // on_error already answered
  if (!body.empty()) upstream_->send_body(body, body_done);
  stream_.pause_request_body(false);
}

void ProxyStream::on_response_head(http::ResponseHead&& head, bool end_stream) {
  if (pool_ && upstream_) {
    learn_affinity(*pool_->endpoints(), request_, head, upstream_->endpoint());
    if (authz_) authz_->set_endpoint(upstream_->endpoint());
  }
  filter_upstream_response(head);
  add_cors_headers(snapshot_->cors, request_, head);
  const bool held = authz_ && authz_->on_response_head(request_, head, end_stream);
  if (is_event_stream(head.headers)) {
    // A live SSE stream may be quiet for a long time; its end is the
    // upstream's or the client's decision, not a timer's -- except the
    // token's own expiry.
    stream_.set_idle_timeout(std::chrono::milliseconds{0});
    if (!end_stream) arm_expiry_timer();
  }
  if (end_stream) state_ = State::kReplied;
  telemetry_.on_response_head(head.status, is_event_stream(head.headers));
  if (end_stream) telemetry_.on_response_end();
  if (held) return;  // a tools/list result to rewrite: sent with its body
  stream_.send_head(std::move(head), end_stream);
  // From here on no request field is read (an upstream error resets the
  // stream), and an SSE response may stay open for hours: its request
  // fields, the bearer token among them, are freed now. Moved
  // out, not assigned over: a std::string assigned from an empty one keeps
  // its buffer.
  if (!end_stream && stream_.head_sent()) {
    const http::HeaderMap released = std::move(request_.headers);
    request_.headers = http::HeaderMap();
  }
}

void ProxyStream::on_response_body(std::string_view data, bool end_stream) {
  if (end_stream) state_ = State::kReplied;
  telemetry_.on_body(data.size());
  if (end_stream) telemetry_.on_response_end();
  if (end_stream) expiry_timer_.reset();
  if (authz_) {
    authz_->forward_body(data, end_stream, stream_);
  } else {
    stream_.send_body(data, end_stream);
  }
  if (!end_stream && upstream_ && stream_.above_high_watermark()) upstream_->pause_response(true);
}

// Relay an upstream read at once: a fan-out of one event to
// thousands of streams otherwise waits for every stream's read of the epoll
// batch before the first client write. One read's pieces still leave in one
// write.
void ProxyStream::on_response_read_done() {
  if (state_ == State::kForwarding) stream_.flush();
}

void ProxyStream::on_error(http::ClientError error, std::string_view detail) {
  log::warn("router", "upstream " + route_->config->upstream + ": " +
                          std::string(http::to_string(error)) + ": " + log::sanitize(detail));
  if (http::is_tls_error(error)) {
    telemetry_.on_upstream_tls_failure(route_->config->upstream, tls_reason(error), detail);
  } else {
    telemetry_.on_upstream_error(route_->config->upstream, http::to_string(error));
  }
  if (stream_.head_sent()) {
    // Mid-response: the client must see an incomplete message, never a
    // well-formed truncated one.
    state_ = State::kReplied;
    stream_.reset();
    return;
  }
  if (pinned_ &&
      (error == http::ClientError::kConnectFailed || error == http::ClientError::kConnectTimeout)) {
    // The endpoint that holds this session is unreachable: the session is lost.
    send_local(session_lost(*pool_->endpoints(), request_));
    return;
  }
  const int status = status_for(error);
  send_local(json_error(status, status == 504 ? "upstream_timeout" : "bad_gateway",
                        "The MCP server behind this gateway did not answer (" +
                            std::string(http::to_string(error)) + ")"));
}

// ---- mcp_authz: the logic lives in request_authz / mcp_authz ----

// DNS-rebinding protection: the listener's Host and Origin allow-lists.
bool ProxyStream::check_origin_and_host() {
  // One policy per listener, built with the snapshot (gateway.cpp); an
  // unknown listener address gets the first listener's, as before.
  const auto& policies = snapshot_->shared->origin_policies;
  if (policies.empty()) return true;
  auto found = policies.find(listener_address_);
  if (found == policies.end()) found = policies.find(snapshot_->config->listeners.front().address);
  const auto& [address, policy] = *found;
  // A second Host or Origin field is refused like a value outside the list:
  // which one another component would read is not ours to guess.
  if (const std::string_view* host = request_.headers.get("host");
      host && (request_.headers.count("host") > 1 || !policy.host_allowed(*host))) {
    log::limited(log::Level::kWarn, "authz host", "authz",
                 "Host " + log::sanitize(*host) + " not allowed on " + address + " -> 421");
    send_local(json_document(421, jsonrpc_error_without_id(-32000,
                                                           "Misdirected Request: Host "
                                                           "not allowed")));
    return false;
  }
  const std::string_view* origin = request_.headers.get("origin");
  if (origin && (request_.headers.count("origin") > 1 || !policy.origin_allowed(*origin))) {
    log::limited(log::Level::kWarn, "authz origin", "authz",
                 "Origin " + log::sanitize(*origin) + " not allowed -> 403");
    send_local(
        json_document(403, jsonrpc_error_without_id(-32000, "Forbidden: Origin not allowed")));
    return false;
  }
  return true;
}

void ProxyStream::authorize(std::optional<auth::Claims> claims) {
  authz_ = std::make_unique<RequestAuthz>(*route_->config, *snapshot_->config, snapshot_->sessions,
                                          std::move(claims));
  if (auto refusal = authz_->check_head(request_)) {
    send_local(std::move(*refusal));
    return;
  }
  if (!authz_->wants_body()) {
    forward();
    return;
  }
  if (pending_body_.size() > authz_->body_cap()) {
    send_local(authz_->body_over_cap());
    return;
  }
  if (request_ended_) {
    finish_body_check();
    return;
  }
  // Hold the body (bounded by body_cap) until it is complete.
  state_ = State::kBufferingBody;
  stream_.pause_request_body(false);
}

void ProxyStream::finish_body_check() {
  auto refusal = authz_->check_body(pending_body_);
  telemetry_.set_mcp(authz_->mcp_method(), authz_->mcp_tool());
  if (refusal) {
    send_local(std::move(*refusal));
    return;
  }
  forward();
}

void ProxyStream::arm_expiry_timer() {
  if (!authz_) return;
  const int64_t deadline = authz_->stream_deadline();
  if (deadline <= 0) return;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t delay_ms = std::max<int64_t>(
      0, deadline * 1000 - std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  expiry_timer_.reset(evtimer_new(
      stream_.base(),
      [](evutil_socket_t, short, void* self) {
        try {
          static_cast<ProxyStream*>(self)->on_token_expired();
        } catch (...) {
          log::error("authz", "closing an expired stream failed");
        }
      },
      this));
  if (!expiry_timer_) return;
  timeval delay{static_cast<time_t>(delay_ms / 1000),
                static_cast<suseconds_t>((delay_ms % 1000) * 1000)};
  evtimer_add(expiry_timer_.get(), &delay);
}

// The token that opened this stream has expired: end the response cleanly
// (the client reconnects with a fresh token and resumes with Last-Event-ID)
// and drop the upstream side.
void ProxyStream::on_token_expired() {
  if (state_ != State::kForwarding) return;
  log::info("authz", "token expired: closing the event stream " + log::sanitize(request_.path));
  upstream_.reset();
  state_ = State::kReplied;
  telemetry_.on_response_end();
  stream_.send_body(std::string_view(), true);
}

}  // namespace mag::proxy
