// Per-request telemetry: the request id, the access-log line and the
// request metrics. ProxyStream owns one RequestTelemetry and reports what
// happens to it (route, auth decision, response head, body bytes, upstream
// timing); the line and the metrics are written when the request ends.
//
// Never a token: the record holds only the token's `sub` and `client_id`,
// written as `access_log.identity` says (plain, keyed hash or left out).
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/c_handles.h"
#include "common/http/http_message.h"
#include "proxy/telemetry/access_log_identity.h"

namespace mag::proxy {

enum class AccessLogFormat { kJson, kText };

// Where access-log lines go: stdout, or a file opened in append mode (a
// reload opens it again, which is also how log rotation works: SIGHUP).
class AccessLogSink {
 public:
  // `path` empty or "-": stdout. False with a reason when the file cannot be opened.
  static std::shared_ptr<AccessLogSink> open(const std::string& path, AccessLogFormat format,
                                             std::string* error);
  AccessLogSink(const AccessLogSink&) = delete;
  AccessLogSink& operator=(const AccessLogSink&) = delete;
  AccessLogFormat format() const { return format_; }
  // How `sub` / `client_id` are shown (access_log.identity). Set once, right
  // after open() and before the sink is shared.
  void set_identity(AccessLogIdentity identity) { identity_ = std::move(identity); }
  const AccessLogIdentity& identity() const { return identity_; }
  void write_line(const std::string& line);

 private:
  using FilePtr = std::unique_ptr<FILE, CDeleter<fclose>>;
  AccessLogSink(FILE* out, FilePtr owned, AccessLogFormat format)
      : out_(out), owned_(std::move(owned)), format_(format) {}
  FILE* out_;      // stdout or owned_
  FilePtr owned_;  // the file, when not stdout
  AccessLogFormat format_;
  AccessLogIdentity identity_;
};

struct AccessRecord {
  std::chrono::system_clock::time_point start_time;
  std::string request_id;
  std::string route;  // path_prefix, "prm" for metadata, "" when none matched
  std::string method;
  std::string path;  // without the query
  int status = 0;
  uint64_t bytes_sent = 0;  // response body bytes
  double duration_seconds = 0;
  std::optional<double> upstream_seconds;
  std::string subject;
  std::string client_id;
  std::string auth_decision;  // "allow", "deny", "" (no auth on this route)
  std::string auth_reason;    // reason code for deny
  std::string upstream_error;
  // From the JSON-RPC body, when a rule made the gateway read it: the first
  // message's method ("tools/call"; "+N" appended for a batch) and tool name.
  std::string mcp_method;
  std::string mcp_tool;
};

// `identity` decides how record.subject / record.client_id appear (default: as is).
std::string format_access_json(const AccessRecord& record, const AccessLogIdentity& identity = {});
std::string format_access_text(const AccessRecord& record, const AccessLogIdentity& identity = {});

// A client-supplied X-Request-Id is kept when it is 1..128 characters of
// [A-Za-z0-9._:-]; anything else is replaced by a generated one.
bool is_sane_request_id(std::string_view id);
std::string generate_request_id();  // 32 hex characters: per-thread random prefix + mixed counter

class RequestTelemetry {
 public:
  explicit RequestTelemetry(std::shared_ptr<AccessLogSink> sink);
  ~RequestTelemetry();  // writes the line and the metrics
  RequestTelemetry(const RequestTelemetry&) = delete;
  RequestTelemetry& operator=(const RequestTelemetry&) = delete;

  void on_request(const http::RequestHead& head);
  const std::string& request_id() const { return record_.request_id; }
  void set_route(std::string route) { record_.route = std::move(route); }
  void set_mcp(std::string method, std::string tool) {
    record_.mcp_method = std::move(method);
    record_.mcp_tool = std::move(tool);
  }
  void on_auth(bool allowed, std::string_view reason, std::string_view subject,
               std::string_view client_id);
  void on_forward();
  void on_response_head(int status, bool event_stream);
  // A reply made by the gateway. After an "allow" from jwt_authn, a 400 /
  // 403 / 413 is the MCP authorization stage refusing: recorded as a deny —
  // unless on_upstream_token_failure came first (a token exchange the AS
  // refused: the decision stays "allow", upstream_error says why).
  void on_local_reply(const http::ResponseHead& head);
  void on_body(size_t bytes) { record_.bytes_sent += bytes; }
  void on_response_end();
  void on_upstream_error(std::string_view upstream, std::string_view kind);
  // An https:// upstream's handshake failed: `reason` is verify, protocol or
  // handshake (metric label); `detail` (the verify error string or OpenSSL's
  // reason) goes to the access log as "tls: <detail>".
  void on_upstream_tls_failure(std::string_view upstream, std::string_view reason,
                               std::string_view detail);
  // The request was answered because the upstream's OAuth token could not
  // be had: `grant` and a bounded `reason` (an OAuth error code or a
  // transport failure kind), never the AS's text or a token. Call it before
  // on_local_reply.
  void on_upstream_token_failure(std::string_view grant, std::string_view reason);
  void on_client_reset() { client_reset_ = true; }

 private:
  void finish();

  std::shared_ptr<AccessLogSink> sink_;
  AccessRecord record_;
  bool started_ = false;
  bool sse_ = false;
  bool client_reset_ = false;
  bool token_failure_ = false;  // on_upstream_token_failure was called
  std::chrono::steady_clock::time_point start_;
  std::optional<std::chrono::steady_clock::time_point> forward_start_;
  std::optional<std::chrono::steady_clock::time_point> end_;
};

}  // namespace mag::proxy
