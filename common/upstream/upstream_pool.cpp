// Keep-alive HTTP/1.1 client pool. Structure:
//   MultiPool           one per UpstreamPool: picks the endpoint (round-robin
//                       or the caller's), moves a stream whose connect failed
//                       to another one (this file).
//   EndpointPool        one per endpoint: owns every UpstreamConnection
//                       (shared_ptr) and the resolver; hands out streams
//                       (declared in endpoint_pool.h, defined here).
//   UpstreamConnection  one TCP connection (upstream_connection.h).
//   UpstreamStream      the caller's handle for one exchange; owns the
//                       request framing (upstream_stream.h).
#include "common/upstream/upstream_pool.h"
#include "common/core/exception_barrier.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"
#include "common/core/log.h"
#include "common/http/content_length.h"
#include "common/upstream/endpoint_pool.h"
#include "common/upstream/upstream_connection.h"
#include "common/upstream/upstream_stream.h"

namespace mag::http {

std::string_view to_string(ClientError e) {
  switch (e) {
    case ClientError::kConnectFailed:
      return "connect failed";
    case ClientError::kConnectTimeout:
      return "connect timeout";
    case ClientError::kResponseTimeout:
      return "response header timeout";
    case ClientError::kIdleTimeout:
      return "idle timeout";
    case ClientError::kReset:
      return "connection reset";
    case ClientError::kProtocolError:
      return "protocol error";
    case ClientError::kTlsVerify:
      return "tls verify";
    case ClientError::kTlsProtocol:
      return "tls protocol";
    case ClientError::kTlsHandshake:
      return "tls handshake";
    case ClientError::kPoolExhausted:
      return "pool exhausted";
  }
  return "unknown";
}

bool is_tls_error(ClientError e) {
  return e == ClientError::kTlsVerify || e == ClientError::kTlsProtocol ||
         e == ClientError::kTlsHandshake;
}

namespace {

constexpr std::string_view kLog = "upstream";

// Methods whose request may be sent twice without changing the outcome (RFC
// 9110 §9.2.2), restricted to those we retry.
bool is_retryable_method(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "DELETE";
}

bool method_expects_body(std::string_view m) {
  return m == "POST" || m == "PUT" || m == "PATCH";
}

}  // namespace

// ------------------------------------------------------------------ EndpointPool

EndpointPool::EndpointPool(MultiPool* owner, size_t index, event_base* base, std::string host,
                           uint16_t port, PoolOptions options)
    : owner_(owner),
      index_(index),
      base_(base),
      host_(std::move(host)),
      port_(port),
      options_(options) {
  const bool v6 = host_.find(':') != std::string::npos;
  host_header_ = v6 ? "[" + host_ + "]" : host_;
  if (port_ != (options_.tls ? 443 : 80)) host_header_ += ":" + std::to_string(port_);

  sockaddr_storage ss{};
  auto* v4addr = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6addr = reinterpret_cast<sockaddr_in6*>(&ss);
  if (evutil_inet_pton(AF_INET, host_.c_str(), &v4addr->sin_addr) == 1) {
    v4addr->sin_family = AF_INET;
    v4addr->sin_port = htons(port_);
    literal_ = ss;
    literal_len_ = sizeof(sockaddr_in);
  } else if (evutil_inet_pton(AF_INET6, host_.c_str(), &v6addr->sin6_addr) == 1) {
    v6addr->sin6_family = AF_INET6;
    v6addr->sin6_port = htons(port_);
    literal_ = ss;
    literal_len_ = sizeof(sockaddr_in6);
  }
}

EndpointPool::~EndpointPool() {
  // Detach everything first: callbacks below may destroy streams, which
  // close connections, which must not modify the maps we iterate.
  std::vector<std::shared_ptr<UpstreamConnection>> conns;
  conns.reserve(conns_.size());
  for (auto& [raw, conn] : conns_) {
    conn->detach_pool();
    conns.push_back(conn);
  }
  conns_.clear();
  idle_.clear();
  for (auto& conn : conns) conn->pool_gone();
}

evdns_base* EndpointPool::dns() {
  if (!dns_) dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS));
  return dns_.get();
}

std::shared_ptr<UpstreamConnection> EndpointPool::acquire(
    bool allow_idle, std::chrono::milliseconds connect_timeout) {
  while (allow_idle && !idle_.empty()) {
    UpstreamConnection* raw = idle_.back();
    idle_.pop_back();
    auto conn = conns_.at(raw);
    if (conn->idle_and_alive()) return conn;
    conn->close();  // the peer closed it while it sat idle
  }
  if (conns_.size() >= options_.max_connections) return nullptr;
  auto conn = std::make_shared<UpstreamConnection>(this, base_, options_.limits);
  conns_.emplace(conn.get(), conn);
  conn->connect(connect_timeout);
  return conn;
}

std::unique_ptr<ClientStream> EndpointPool::start(RequestHead head, bool end_stream,
                                                  ClientStreamCallbacks& callbacks,
                                                  const StartOptions& start_options,
                                                  bool may_move) {
  auto stream = std::make_unique<UpstreamStream>(base_, callbacks);
  stream->method_ = head.method;
  stream->endpoint_ = index_;
  stream->connect_timeout_ = start_options.connect_timeout.value_or(options_.connect_timeout);
  stream->header_timeout_ =
      start_options.response_header_timeout.value_or(options_.response_header_timeout);
  stream->idle_timeout_ = start_options.idle_timeout.value_or(options_.idle_timeout);
  // The pool owns request framing; never forward a caller's Transfer-Encoding.
  head.headers.remove("Transfer-Encoding");
  stream->wants_close_ = head.headers.has_token("Connection", "close");
  if (head.headers.count("Content-Length") > 0) {
    auto length = head.headers.count("Content-Length") == 1
                      ? parse_content_length(*head.headers.get("Content-Length"))
                      : std::nullopt;
    if (!length) {
      stream->fail_later(ClientError::kProtocolError, "invalid request Content-Length");
      return stream;
    }
    stream->framing_ = UpstreamStream::Framing::kLength;
    stream->body_remaining_ = *length;
  } else if (!end_stream) {
    head.headers.add("Transfer-Encoding", "chunked");
    stream->framing_ = UpstreamStream::Framing::kChunked;
  } else if (method_expects_body(head.method)) {
    head.headers.add("Content-Length", "0");
  }
  stream->request_done_ = end_stream;
  stream->retryable_ = end_stream && is_retryable_method(head.method) &&
                       stream->framing_ != UpstreamStream::Framing::kChunked &&
                       stream->body_remaining_ == 0;
  if (may_move && !head.headers.has("Host")) {
    stream->replayable_ = true;
    stream->replay_head_ = head;
  }
  if (!head.headers.has("Host")) head.headers.add("Host", host_header_);
  stream->head_bytes_ = serialize_request_head(head);

  auto conn = acquire(/*allow_idle=*/true, stream->connect_timeout_);
  if (!conn) {
    stream->fail_later(
        ClientError::kPoolExhausted,
        "upstream connection limit reached (" + std::to_string(options_.max_connections) + ")");
    return stream;
  }
  conn->assign(stream.get());
  return stream;
}

bool EndpointPool::retry(UpstreamStream* stream) {
  auto conn = acquire(/*allow_idle=*/false, stream->connect_timeout_);
  if (!conn) return false;
  conn->assign(stream);
  return true;
}

bool EndpointPool::adopt(UpstreamStream* stream) {
  auto conn = acquire(/*allow_idle=*/true, stream->connect_timeout_);
  if (!conn) return false;
  RequestHead head = stream->replay_head_;
  head.headers.add("Host", host_header_);
  stream->head_bytes_ = serialize_request_head(head);
  stream->endpoint_ = index_;
  std::string body = std::move(stream->replay_body_);
  stream->replay_body_.clear();
  conn->assign(stream);  // writes the head
  conn->write(body);
  return true;
}

void EndpointPool::make_idle(UpstreamConnection* conn) {
  if (idle_.size() >= options_.max_idle_connections) {
    conn->close();
    return;
  }
  idle_.push_back(conn);
}

void EndpointPool::remove(UpstreamConnection* conn) {
  std::erase(idle_, conn);
  conns_.erase(conn);
}

// ----------------------------------------------------------------- MultiPool

class MultiPool {
 public:
  MultiPool(event_base* base, std::shared_ptr<UpstreamEndpoints> endpoints, PoolOptions options)
      : endpoints_(std::move(endpoints)) {
    const auto& list = endpoints_->endpoints();
    cores_.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      cores_.push_back(
          std::make_unique<EndpointPool>(this, i, base, list[i].host, list[i].port, options));
    }
  }

  std::unique_ptr<ClientStream> start(RequestHead head, bool end_stream,
                                      ClientStreamCallbacks& callbacks,
                                      const StartOptions& options) {
    const bool pinned = options.endpoint && *options.endpoint < cores_.size();
    const size_t index =
        pinned ? *options.endpoint : endpoints_->pick(UpstreamEndpoints::Clock::now());
    const bool may_move = !pinned && cores_.size() > 1;
    return cores_[index]->start(std::move(head), end_stream, callbacks, options, may_move);
  }

  // The connect of `stream` to endpoint `failed` failed: mark the endpoint
  // (passive health) and move the stream, once, to the next healthy one.
  bool connect_failed(UpstreamStream* stream, size_t failed) {
    const auto now = UpstreamEndpoints::Clock::now();
    endpoints_->report_connect_failure(failed, now);
    if (!stream || !stream->replayable_) return false;
    stream->replayable_ = false;  // one move at most
    auto next = endpoints_->pick_other(failed, now);
    if (!next) return false;
    log::debug(kLog, "connect to endpoint " + std::to_string(failed) + " failed; retrying on " +
                         std::to_string(*next));
    return cores_[*next]->adopt(stream);
  }

  const std::shared_ptr<UpstreamEndpoints>& endpoints() const { return endpoints_; }
  size_t idle_connections() const {
    size_t n = 0;
    for (const auto& core : cores_) n += core->idle_connections();
    return n;
  }
  size_t active_connections() const {
    size_t n = 0;
    for (const auto& core : cores_) n += core->active_connections();
    return n;
  }

 private:
  std::shared_ptr<UpstreamEndpoints> endpoints_;
  std::vector<std::unique_ptr<EndpointPool>> cores_;
};

bool EndpointPool::connect_failed(UpstreamStream* stream) {
  return owner_->connect_failed(stream, index_);
}

void EndpointPool::connected() {
  owner_->endpoints()->report_connected(index_);
}

struct UpstreamPool::Impl : MultiPool {
  using MultiPool::MultiPool;
};

UpstreamPool::UpstreamPool(event_base* base, std::string host, uint16_t port, PoolOptions options)
    : impl_(std::make_unique<Impl>(
          base, std::make_shared<UpstreamEndpoints>(std::vector<Endpoint>{{std::move(host), port}}),
          options)) {}

UpstreamPool::UpstreamPool(event_base* base, std::shared_ptr<UpstreamEndpoints> endpoints,
                           PoolOptions options)
    : impl_(std::make_unique<Impl>(base, std::move(endpoints), options)) {}

UpstreamPool::~UpstreamPool() = default;

std::unique_ptr<ClientStream> UpstreamPool::start(RequestHead head, bool end_stream,
                                                  ClientStreamCallbacks& callbacks,
                                                  const StartOptions& options) {
  return impl_->start(std::move(head), end_stream, callbacks, options);
}

const std::shared_ptr<UpstreamEndpoints>& UpstreamPool::endpoints() const {
  return impl_->endpoints();
}

size_t UpstreamPool::idle_connections() const {
  return impl_->idle_connections();
}
size_t UpstreamPool::active_connections() const {
  return impl_->active_connections();
}

}  // namespace mag::http
