#include "common/upstream/upstream_tls.h"

#include "common/tls/tls_client_context.h"

namespace mag::http {

std::shared_ptr<UpstreamTls> UpstreamTls::create(Settings settings, std::string* error) {
  SslCtxPtr ctx = tls::make_client_context(settings.ca_file, error);
  if (!ctx) return nullptr;
  if (!settings.client_cert_file.empty() &&
      !tls::use_client_certificate(ctx.get(), settings.client_cert_file, settings.client_key_file,
                                   error)) {
    return nullptr;
  }
  // Client mode: the pools keep the last session of each endpoint and offer
  // it on new connections; no internal store (it would grow with every
  // connection of every worker).
  SSL_CTX_set_session_cache_mode(ctx.get(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  return std::make_shared<UpstreamTls>(std::move(settings), std::move(ctx));
}

SslPtr UpstreamTls::new_connection(const std::string& endpoint_host, SSL_SESSION* session,
                                   std::string* error) const {
  const std::string& name = settings_.server_name.empty() ? endpoint_host : settings_.server_name;
  SslPtr ssl = tls::make_client_session(ctx_.get(), name, error);
  if (ssl && session) SSL_set_session(ssl.get(), session);
  return ssl;
}

}  // namespace mag::http
