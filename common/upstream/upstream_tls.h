// The TLS settings of one https:// upstream: one client SSL_CTX (built once
// per config snapshot, shared by every worker's pool of the upstream: SSL_new
// on a shared context is thread-safe) that verifies the chain against a CA
// bundle or the system store, requires TLS 1.2 or later, caches client
// sessions, and carries a client certificate when one is configured.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/core/c_handles.h"

namespace mag::http {

class UpstreamTls {
 public:
  struct Settings {
    std::string ca_file;           // empty: the system store
    std::string client_cert_file;  // both or neither
    std::string client_key_file;
    std::string server_name;  // SNI and verified name; empty: each endpoint's host
  };

  // Null with the reason in `error` (unreadable CA, certificate or key).
  static std::shared_ptr<UpstreamTls> create(Settings settings, std::string* error);

  // A connection to `endpoint_host` (a name or an IP literal without
  // brackets): SNI and the expected identity are the configured server name
  // or that host; `session` (may be null) is offered for resumption.
  SslPtr new_connection(const std::string& endpoint_host, SSL_SESSION* session,
                        std::string* error) const;
  const Settings& settings() const { return settings_; }

  // Use create(); `ctx` is a ready client context.
  UpstreamTls(Settings settings, SslCtxPtr ctx)
      : settings_(std::move(settings)), ctx_(std::move(ctx)) {}

 private:
  Settings settings_;
  SslCtxPtr ctx_;
};

}  // namespace mag::http
