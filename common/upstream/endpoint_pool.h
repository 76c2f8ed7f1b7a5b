// The connections to one endpoint of an upstream: owns every
// UpstreamConnection (shared_ptr) and the resolver, hands out streams,
// retries a request on a fresh connection, takes over streams moved from an
// endpoint whose connect failed. MultiPool (upstream_pool.cpp) holds one per
// endpoint.
#pragma once

#include <event2/dns.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/c_handles.h"
#include "common/http/http_message.h"
#include "common/upstream/upstream_pool.h"

namespace mag::http {

class MultiPool;
class UpstreamConnection;
class UpstreamStream;

struct DnsBaseDeleter {
  // 1: pending lookups end now, so their bufferevents are released.
  void operator()(evdns_base* d) const noexcept {
    if (d) evdns_base_free(d, 1);
  }
};
using DnsBasePtr = std::unique_ptr<evdns_base, DnsBaseDeleter>;

class EndpointPool {
 public:
  EndpointPool(MultiPool* owner, size_t index, event_base* base, std::string host, uint16_t port,
               PoolOptions options);
  ~EndpointPool();

  std::unique_ptr<ClientStream> start(RequestHead head, bool end_stream,
                                      ClientStreamCallbacks& callbacks,
                                      const StartOptions& start_options, bool may_move);
  // Moves `stream` to a fresh connection after a reused one failed. False
  // when no connection can be opened.
  bool retry(UpstreamStream* stream);
  // Takes over a stream whose connect to another endpoint failed: its head
  // gets this endpoint's Host and its body so far is written again. False
  // when no connection can be had.
  bool adopt(UpstreamStream* stream);
  // A connection of `stream` failed to connect (`stream` may be null). True
  // when the stream was moved to another endpoint and lives on.
  bool connect_failed(UpstreamStream* stream);
  void connected();
  void make_idle(UpstreamConnection* conn);
  void remove(UpstreamConnection* conn);
  size_t idle_connections() const { return idle_.size(); }
  size_t active_connections() const { return conns_.size() - idle_.size(); }

  event_base* base() const { return base_; }
  const PoolOptions& options() const { return options_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  // The resolver, created on first use; null for address literals.
  evdns_base* dns();
  const sockaddr_storage* literal() const { return literal_ ? &*literal_ : nullptr; }
  int literal_len() const { return literal_len_; }
  // https:// upstreams: the session of the last TLS connection to this
  // endpoint, offered by new connections for resumption (may be null).
  SSL_SESSION* tls_session() const { return tls_session_.get(); }
  void set_tls_session(SslSessionPtr session) { tls_session_ = std::move(session); }

 private:
  std::shared_ptr<UpstreamConnection> acquire(bool allow_idle,
                                              std::chrono::milliseconds connect_timeout);

  MultiPool* owner_;
  size_t index_;
  event_base* base_;
  std::string host_;
  uint16_t port_;
  PoolOptions options_;
  std::string host_header_;
  std::optional<sockaddr_storage> literal_;
  int literal_len_ = 0;
  DnsBasePtr dns_;
  SslSessionPtr tls_session_;
  std::unordered_map<UpstreamConnection*, std::shared_ptr<UpstreamConnection>> conns_;
  std::vector<UpstreamConnection*> idle_;  // most recently used last
};

}  // namespace mag::http
