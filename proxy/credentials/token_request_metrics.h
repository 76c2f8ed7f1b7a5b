// mag_upstream_token_requests_total{upstream,grant,outcome}: one per answer
// of a token endpoint (or failure to reach it). Labels are bounded: the
// upstream's name, the grant, the outcome label; never a token or secret.
#pragma once

#include <string>
#include <string_view>

#include "proxy/credentials/token_answer.h"

namespace mag::credentials {

void count_token_request(const std::string& upstream, std::string_view grant,
                         const TokenAnswer& answer);

}  // namespace mag::credentials
