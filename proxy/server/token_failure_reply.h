// The answer to a request whose upstream token could not be had
// (docs/upstreams.md): the AS unavailable → 503; the AS refusing the
// gateway's own client, or answering something that is not a token
// response → 502; a token exchange refused for this caller → 403, or 401
// with an invalid_token challenge when the subject token itself was
// refused (invalid_grant); a token_exchange upstream reached without a
// validated bearer token → 401 without error. The AS's text is never
// passed on.
#pragma once

#include "proxy/config/config.h"
#include "proxy/credentials/token_answer.h"
#include "proxy/router/local_reply.h"

namespace mag::proxy {

// `exchange`: the upstream's grant is token_exchange.
LocalReply token_failure_reply(const credentials::TokenAnswer& answer, bool exchange,
                               const config::Route& route);
LocalReply no_subject_token_reply(const config::Route& route);

}  // namespace mag::proxy
