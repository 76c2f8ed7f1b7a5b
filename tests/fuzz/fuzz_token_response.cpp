// libFuzzer target: a token endpoint's answer, as a (hostile) authorization
// server sends it, through parse_token_response. The first byte picks the
// HTTP status, the rest is the body. The verdict never carries the AS's
// text: an issued token is a valid header value within its cap, and a
// reason is one of a bounded set of short lower-case codes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/credentials/token_response.h"

namespace {

constexpr std::array<int, 8> kStatuses = {200, 400, 401, 403, 500, 503, 302, 404};
constexpr size_t kMaxTokenBytes = 8192;
constexpr int64_t kMaxExpiresIn = 365LL * 24 * 3600;

bool is_reason_code(const std::string& reason) {
  if (reason.empty() || reason.size() > 32) return false;
  for (char c : reason) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

bool is_header_value(const std::string& token) {
  if (token.empty() || token.size() > kMaxTokenBytes) return false;
  for (char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  mag::http::FetchResult result;
  result.ok = true;
  result.status = kStatuses[data[0] % kStatuses.size()];
  result.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto answer = mag::credentials::parse_token_response(result);
  using Outcome = mag::credentials::TokenResponse::Outcome;
  if (answer.outcome == Outcome::kIssued) {
    if (result.status != 200 || !is_header_value(answer.access_token)) std::abort();
    if (answer.expires_in.count() < 0 || answer.expires_in.count() > kMaxExpiresIn) std::abort();
  } else {
    if (!answer.access_token.empty() || !is_reason_code(answer.reason)) std::abort();
  }
  return 0;
}
