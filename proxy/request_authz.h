// The mcp_authz stage of one request, between jwt_authn and the router:
// session binding, route / per-method / per-tool scopes (reading the JSON-RPC
// body when a rule needs it), identity headers for the upstream, and on the
// way back tools/list filtering and the end of session bindings. ProxyStream
// drives it; the decisions themselves live in mcp_authz, jsonrpc_inspect,
// session_binding, tools_list_filter and identity_headers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_message.h"
#include "common/http/http_server.h"
#include "proxy/config.h"
#include "proxy/jwt_verifier.h"
#include "proxy/local_reply.h"
#include "proxy/mcp_authz.h"
#include "proxy/session_binding.h"
#include "proxy/tools_list_filter.h"

namespace mag::proxy {

class RequestAuthz {
 public:
  // `sessions` may be null (no binding). `claims` null = anonymous
  // (`allow_missing` without a token, or `auth: none`).
  RequestAuthz(const config::Route& route, const config::Config& config,
               std::shared_ptr<SessionBindings> sessions, const auth::Claims* claims);
  // The same, taking the claims over instead of copying them (issue 9).
  RequestAuthz(const config::Route& route, const config::Config& config,
               std::shared_ptr<SessionBindings> sessions, std::optional<auth::Claims> claims);

  // Before the body: a refusal that the head alone decides (session of
  // another principal, body too big, route scopes when no rule reads the body).
  std::optional<LocalReply> check_head(const http::RequestHead& request);
  // True when the body must be complete before check_body() and forwarding.
  bool wants_body() const { return wants_body_; }
  size_t body_cap() const { return config_.authz.max_inspected_body; }
  std::optional<LocalReply> check_body(std::string_view body);
  // A 413 for a body over body_cap().
  LocalReply body_too_large() const;

  // Identity headers (client copies removed first) and no Origin: the
  // gateway has validated it, and a loopback upstream with its own
  // DNS-rebinding protection would refuse a browser's public origin.
  void prepare_upstream(const http::RequestHead& downstream, http::RequestHead& upstream) const;

  // Response side. Binds / forgets the session; decides whether the body is
  // rewritten. True when the head must be held until the body is complete
  // (a JSON tools/list result whose Content-Length will change).
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

 private:
  enum class Mode { kPass, kHoldJson, kSse };
  std::string mcp_method_;
  std::string mcp_tool_;
  std::optional<LocalReply> refuse(const mcp::AuthzDecision& decision) const;
  std::string session_key(std::string_view session_id) const;
  const std::vector<std::string>& scopes() const;
  // The session owner key, made on first use: most requests carry no
  // session and never need it (issue 9).
  const std::string& principal();

  const config::Route& route_;
  const config::Config& config_;
  std::shared_ptr<SessionBindings> sessions_;
  std::optional<auth::Claims> claims_;
  std::string principal_;  // empty until principal()
  bool wants_body_ = false;
  std::vector<std::string> tools_list_ids_;  // ids of tools/list requests in the body
  Mode mode_ = Mode::kPass;
  http::ResponseHead held_head_;
  std::string held_body_;
  std::unique_ptr<mcp::SseToolsListRewriter> sse_;
};

}  // namespace mag::proxy
