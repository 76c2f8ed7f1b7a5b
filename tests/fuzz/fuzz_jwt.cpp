// libFuzzer target: the whole token path that a request's Authorization
// header reaches: compact-form pre-validation (parse_compact_jws), then
// signature and claims (verify_jwt) against a fixed key set (RSA-2048 rsa1,
// EC P-256 ec1). The clock is fixed so that the seed tokens (minted for it)
// get past the signature into the claim checks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/auth/jwks.h"
#include "proxy/auth/jwt_compact.h"
#include "proxy/auth/jwt_verifier.h"
#include "tests/unit/proxy/auth/signature_test_util.h"

namespace {

// Public keys only (the private halves were discarded after minting the seeds).
constexpr const char* kFixedJwks =
    R"JWKS({"keys":[{"kty":"RSA","n":"lHxoQN_txUIdSeCnEwr8juH0hXI89x-P4MYhZgxTWBVXY9A2V39ffWWvylkU_OZIsKxbcb1r0ODjVffBu6zNAVt5IcF-bKJQXtcsMPKfJcxXg9lTk1zCnoysqP8s-M2sr7BBeKmDXTlwXmx-XGAvMIbPo44mJVunj843z6PNQJBZJHAPt5x6fPN-MKL39ngPAXR9FE-e6CpllV8ZWJXuqg8pMLz7BhFax_Qb898prCYHLGkx4lR6is8wBZtQEeWVI7ne_2s_J-WRMSAXYoajtOv9gRrYUwVm21FSNpIeDrlSqgi2y8oAKiFt8NV41w4SmE9QscTRzFmTDs5PP-hJgQ","e":"AQAB","kid":"rsa1","alg":"RS256","use":"sig"},{"kty":"EC","x":"6VW0g4aAceFiKVk065ST-iUl6x7DmgCSxAn99y4YtMQ","y":"25qZjPlBPAk0TscvDg6lBCe-mIlH46c_qxRRPwxRY-M","crv":"P-256","kid":"ec1","alg":"ES256","use":"sig"}]})JWKS";
constexpr int64_t kFixedNow = 1900000000;

const mag::auth::KeySet& fixed_keys() {
  static const auto parsed = mag::auth::parse_jwks(kFixedJwks);
  if (!parsed.keys) std::abort();  // the harness itself is broken
  return *parsed.keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> algs = {"RS256", "ES256", "PS256", "ES384"};

  mag::auth::CompactJws jws;
  const auto pre = mag::auth::parse_compact_jws(token, 16 * 1024, algs, &jws);

  mag::auth::VerifyPolicy policy;
  policy.issuer = "https://issuer.test";
  policy.audiences = {"api://svc"};
  policy.algorithms = algs;
  const auto result = mag::auth::verify_jwt(token, fixed_keys(), policy, kFixedNow);
  // A token the pre-validator refuses must never verify.
  if (pre != mag::auth::Reason::kOk && result.ok()) std::abort();
  (void)mag::auth::verify_signature_only(token, fixed_keys(), algs);
  return 0;
}
