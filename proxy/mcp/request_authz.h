// The mcp_authz stage of one request, between jwt_authn and the router:
// session binding, route / per-method / per-tool scopes (reading the JSON-RPC
// body when a rule needs it), identity headers for the upstream, and on the
// way back list filtering (tools, prompts, resources, resource templates)
// and the end of session bindings. ProxyStream drives it; the decisions
// themselves live in mcp_authz, list_entry_authz, jsonrpc_inspect,
// session_binding, list_filter and identity_headers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_message.h"
#include "common/http/http_server.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/config/config.h"
#include "proxy/mcp/list_filter.h"
#include "proxy/mcp/mcp_authz.h"
#include "proxy/mcp/session_binding.h"
#include "proxy/mcp/sse_list_rewriter.h"
#include "proxy/router/local_reply.h"

namespace mag::proxy {

class RequestAuthz {
 public:
  // `sessions` may be null (no binding). `claims` null = anonymous
  // (`allow_missing` without a token, or `auth: none`).
  RequestAuthz(const config::Route& route, const config::Config& config,
               std::shared_ptr<SessionBindings> sessions, const auth::Claims* claims);
  // The same, taking the claims over instead of copying them.
  RequestAuthz(const config::Route& route, const config::Config& config,
               std::shared_ptr<SessionBindings> sessions, std::optional<auth::Claims> claims);

  // Before the body: a refusal that the head alone decides (two values of
  // an MCP header, a body the gateway would read otherwise than the
  // upstream, session of another principal, body too big, route scopes when
  // no rule reads the body; proxy/mcp/request_screen.h).
  std::optional<LocalReply> check_head(const http::RequestHead& request);
  // True when the body must be complete before check_body() and forwarding:
  // a POST whose body a rule reads, or another method on such a route, whose
  // body must be empty.
  bool wants_body() const { return wants_body_; }
  size_t body_cap() const { return body_must_be_empty_ ? 0 : config_.authz.max_inspected_body; }
  std::optional<LocalReply> check_body(std::string_view body);
  // A 413 for a body over body_cap().
  LocalReply body_too_large() const;
  // The answer to a body over body_cap(): body_too_large(), or a 400 when
  // the method may have no body.
  LocalReply body_over_cap() const;

  // Identity headers (client copies removed first) and no Origin: the
  // gateway has validated it, and a loopback upstream with its own
  // DNS-rebinding protection would refuse a browser's public origin. A
  // request with a filtered list method asks for an uncompressed response
  // (the filter reads it; a compressed one is refused).
  void prepare_upstream(const http::RequestHead& downstream, http::RequestHead& upstream) const;

  // The upstream endpoint (index in the route's upstream's endpoints) that
  // answers; set before on_response_head(). Session bindings are named
  // after it (proxy/mcp/session_binding.h); unset, nothing is bound.
  void set_endpoint(size_t index) { endpoint_ = index; }

  // Response side. Binds / forgets the session; decides whether the body is
  // rewritten. True when the head must be held until the body is complete
  // (a response to a filtered list request that is not an event stream:
  // held, parsed and filtered, or replaced by a JSON-RPC error when it
  // cannot be).
  bool on_response_head(const http::RequestHead& request, http::ResponseHead& head,
                        bool end_stream);
  // Body through the filter: sends (held head and) bytes to `stream`.
  void forward_body(std::string_view data, bool end_stream, http::ServerStream& stream);
  bool rewrites_body() const { return mode_ != Mode::kPass; }

  // Seconds since the epoch when a stream opened with this token must end
  // (exp + grace); 0 = never.
  int64_t stream_deadline() const;

  // What check_body() found, for the access log: the first message's method
  // ("+N" appended for a batch of N+1) and its tool name; empty before.
  const std::string& mcp_method() const { return mcp_method_; }
  const std::string& mcp_tool() const { return mcp_tool_; }
  // For the access log only, on a route whose rules do not read the body:
  // the same names from a body that is already complete in memory (it
  // arrived while the token was being checked), when it is a JSON-RPC body
  // of at most authz.max_inspected_body bytes. Never refuses anything.
  void read_names(std::string_view complete_body);

 private:
  // kRefuse: the response cannot be filtered (compressed, or a body over
  // the hold cap): its body is dropped and a JSON-RPC error sent instead.
  enum class Mode { kPass, kHoldJson, kSse, kRefuse };
  std::string mcp_method_;
  std::string mcp_tool_;
  std::optional<LocalReply> refuse(const mcp::AuthzDecision& decision) const;
  // The session under the endpoint at `endpoint` of the route's upstream.
  std::string session_key(size_t endpoint, std::string_view session_id) const;
  // The session rule of check_head (docs/authorization.md "Sessions bound
  // to their user").
  std::optional<LocalReply> check_session(const http::RequestHead& request, std::string_view id);
  const std::vector<std::string>& scopes() const;
  // The session owner key, made on first use: most requests carry no
  // session and never need it.
  const std::string& principal();
  // True when this request has list requests whose results are filtered.
  bool filters_lists() const { return !list_requests_.empty(); }
  // The predicate the list filter asks: may this token use that entry?
  mcp::ListEntryPredicate entry_predicate() const;
  // The held head (Content-Length set) and `body`, which ends the response.
  void send_held(std::string_view body, http::ServerStream& stream);
  // The JSON-RPC error for every filtered list request instead of the response.
  void send_refusal(std::string_view why, http::ServerStream& stream);

  const config::Route& route_;
  const config::Config& config_;
  std::shared_ptr<SessionBindings> sessions_;
  std::optional<auth::Claims> claims_;
  std::string principal_;  // empty until principal()
  std::optional<size_t> endpoint_;
  bool wants_body_ = false;
  bool body_must_be_empty_ = false;              // not a POST, on a route whose rules read bodies
  std::vector<mcp::ListRequest> list_requests_;  // the body's list requests that are filtered
  Mode mode_ = Mode::kPass;
  http::ResponseHead held_head_;
  std::string held_body_;
  std::unique_ptr<mcp::SseListRewriter> sse_;
};

}  // namespace mag::proxy
