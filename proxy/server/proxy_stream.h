// One request through the gateway: the filter chain (path check, CORS,
// protected-resource metadata, route, jwt_authn) and then the router, which
// streams the request to the upstream and the response back, with flow
// control in both directions.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/core/c_handles.h"
#include "common/http/http_server.h"
#include "common/upstream/upstream_pool.h"
#include "proxy/auth/authenticator.h"
#include "proxy/credentials/token_view.h"
#include "proxy/mcp/request_authz.h"
#include "proxy/router/local_reply.h"
#include "proxy/server/gateway.h"
#include "proxy/telemetry/access_log.h"

namespace mag::proxy {

class ProxyStream : public http::ServerStreamHandler, public http::ClientStreamCallbacks {
 public:
  ProxyStream(http::ServerStream& stream, std::shared_ptr<const WorkerSnapshot> snapshot);
  ~ProxyStream() override;
  // The listener address the request came in on: selects its Origin/Host
  // allow-lists. Unset: the first listener's.
  void set_listener(std::string address) { listener_address_ = std::move(address); }

  // Downstream (http::ServerStreamHandler)
  void on_request_head(http::RequestHead&& head, bool end_stream) override;
  void on_request_body(std::string_view data, bool end_stream) override;
  void on_reset() override;
  void on_refused(int status) override;
  void on_drained() override;

  // Upstream (http::ClientStreamCallbacks)
  void on_response_head(http::ResponseHead&& head, bool end_stream) override;
  void on_response_body(std::string_view data, bool end_stream) override;
  void on_response_read_done() override;
  void on_error(http::ClientError error, std::string_view detail) override;

 private:
  enum class State {
    kFiltering,
    kWaitingForKeys,
    kWaitingForToken,
    kBufferingBody,
    kForwarding,
    kReplied
  };

  void run_filters();
  bool serve_metadata();
  void run_authentication(bool allow_refetch);
  void reply_unauthorized(const auth::AuthDecision& decision);
  void forward();
  // The upstream's OAuth token (credentials.client_credentials /
  // token_exchange): true when it is there (or none is needed); false when
  // the request waits for it or has been answered.
  bool obtain_upstream_token();
  void on_upstream_token(const credentials::TokenAnswer& answer);
  void reply_token_failure(const credentials::TokenAnswer& answer);
  void send_local(LocalReply reply);  // with the CORS headers
  // Every reply the gateway makes itself goes out here: the head, then the
  // body unless `head_only`; the access log records it as a local reply.
  void send_reply(http::ResponseHead head, std::string_view body, bool head_only);
  // mcp_authz (proxy/mcp/request_authz.h)
  bool check_origin_and_host();
  void authorize(std::optional<auth::Claims> claims);  // nullopt: anonymous
  void finish_body_check();
  void arm_expiry_timer();
  void on_token_expired();

  http::ServerStream& stream_;
  std::shared_ptr<const WorkerSnapshot> snapshot_;
  RequestTelemetry telemetry_;  // access log and request metrics (ops)
  http::RequestHead request_;
  bool request_ended_ = false;
  std::string pending_body_;  // request body that arrived before forwarding began
  const CompiledRoute* route_ = nullptr;
  State state_ = State::kFiltering;
  std::unique_ptr<auth::KeyWait> wait_;
  // The request's validated bearer token's exp (a token exchange's cap) and
  // whether there is one: only a validated token is ever exchanged.
  int64_t subject_expires_at_ = 0;
  bool subject_validated_ = false;
  std::unique_ptr<credentials::TokenWait> token_wait_;
  std::string upstream_token_;  // "Bearer ..." for the upstream; empty: none
  bool token_ready_ = false;
  std::unique_ptr<http::ClientStream> upstream_;
  http::UpstreamPool* pool_ = nullptr;  // the route's; the snapshot keeps it alive
  bool pinned_ = false;                 // sent to its session's endpoint
  std::string listener_address_;
  std::unique_ptr<RequestAuthz> authz_;
  EventPtr expiry_timer_;  // ends an SSE response when the token expires
};

}  // namespace mag::proxy
