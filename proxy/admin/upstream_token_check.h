// The doctor's check of an upstream's OAuth block (`upstream.token`): one
// token request as the gateway would make it, to the configured or the
// discovered token endpoint. client_credentials: a token issued is OK (and
// is used for the upstream.mcp probe). token_exchange: the doctor has no
// caller's token, so it sends a made-up subject token; the AS refusing it
// (invalid_grant, ...) shows that the endpoint answers and accepts the
// gateway's client, while a rejected client or no answer is an error. The
// AS's text and the token are never in the finding.
#pragma once

#include <string>

#include "proxy/admin/doctor.h"
#include "proxy/config/config.h"

namespace mag::proxy {

struct UpstreamTokenCheck {
  Severity severity = Severity::kError;
  std::string message;
  std::string authorization;  // client_credentials issued: "Bearer ..." for the probe
};

// Requires upstream.client_credentials or upstream.token_exchange.
UpstreamTokenCheck check_upstream_token(const config::Upstream& upstream, const DoctorSend& send,
                                        int64_t now_seconds);

}  // namespace mag::proxy
