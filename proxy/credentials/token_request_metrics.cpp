#include "proxy/credentials/token_request_metrics.h"

#include "proxy/telemetry/metrics.h"

namespace mag::credentials {

void count_token_request(const std::string& upstream, std::string_view grant,
                         const TokenAnswer& answer) {
  metrics::global().counter_add("mag_upstream_token_requests_total",
                                {{"upstream", upstream},
                                 {"grant", std::string(grant)},
                                 {"outcome", std::string(outcome_label(answer.outcome))}});
}

}  // namespace mag::credentials
