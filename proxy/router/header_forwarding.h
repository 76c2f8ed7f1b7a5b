// What crosses the gateway in each direction (RFC 9110 §7.6.1): hop-by-hop
// fields stop here, the client's credentials never go upstream, and the
// X-Forwarded-* fields are the gateway's own, not the client's.
#pragma once

#include <span>
#include <string>

#include "common/http/http_message.h"
#include "proxy/config/upstream_credentials.h"

namespace mag::proxy {

struct ForwardContext {
  std::string peer_address;   // the client's address
  bool tls = false;           // the downstream connection's scheme
  std::string upstream_host;  // "127.0.0.1:9000": the upstream sees its own Host
  // The path the upstream receives (proxy/router/path_rewrite.h); empty:
  // the client's path unchanged. The client's query follows it as received.
  std::string upstream_path;
  // When set, sent as X-Request-Id in place of the client's.
  std::string request_id;
  // The upstream's own credentials (`credentials.headers`): each is sent
  // once, and every client field of the same name, in any case, is dropped.
  std::span<const config::CredentialHeader> credentials;
};

// Removes Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-Authorization, Proxy-Authenticate and
// every field named in Connection.
void remove_hop_by_hop(http::HeaderMap& headers);

// The request the upstream receives: same method, target and end-to-end
// fields, minus Authorization, Expect, client-supplied forwarding fields and
// every field whose name has a `_` (as nginx drops them by default: a WSGI
// or CGI server folds `_` and `-` alike, so `X_MCP_Subject` would alias the
// gateway's `X-MCP-Subject`) and every field named like one of the
// upstream's credential headers; plus Host (the upstream's),
// X-Forwarded-For/-Proto/-Host and the credential headers.
http::RequestHead make_upstream_request(const http::RequestHead& downstream,
                                        const ForwardContext& context);

// The response the client receives: the upstream's status and end-to-end
// fields (Content-Length kept, framing fields dropped).
void filter_upstream_response(http::ResponseHead& head);

}  // namespace mag::proxy
