// Verifications per second: the full verify_jwt path (pre-validation, JSON,
// signature, claims) for each algorithm with no cache ("cold"), and the
// verified-token cache hit path of ProviderView::verify (a worker's view).
#include <benchmark/benchmark.h>
#include <event2/event.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/core/event_loop.h"
#include "jwt_test_util.h"
#include "proxy/auth/key_provider.h"
#include "proxy/auth/provider_view.h"

using namespace mag::auth;
using namespace mag::auth::testing;

namespace {

constexpr int64_t kNow = 1700000000;
const std::string kPayload =
    R"({"iss":"https://issuer.test","aud":"api://svc","sub":"u1","scope":"a b","iat":1699999990,"exp":1700000300})";

VerifyPolicy policy_for_alg(const std::string& alg) {
  VerifyPolicy p;
  p.issuer = "https://issuer.test";
  p.audiences = {"api://svc"};
  p.algorithms = {alg};
  return p;
}

struct Fixture {
  std::shared_ptr<const KeySet> keys;
  std::string token;
};

Fixture make_fixture(const std::string& alg) {
  TestKey key = alg == "EdDSA"   ? make_ed25519_key()
                : alg == "ES256" ? make_ec_key("P-256")
                                 : make_rsa_key(2048);
  Fixture f;
  f.keys = parse_jwks(jwks_of({public_jwk(key, "k1")})).keys;
  f.token =
      signed_token(key, alg, R"({"alg":")" + alg + R"(","kid":"k1","typ":"at+jwt"})", kPayload);
  return f;
}

void verify_cold(benchmark::State& state, const std::string& alg) {
  const Fixture f = make_fixture(alg);
  const VerifyPolicy policy = policy_for_alg(alg);
  if (verify_jwt(f.token, *f.keys, policy, kNow).reason != Reason::kOk) {
    state.SkipWithError("fixture token does not verify");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(verify_jwt(f.token, *f.keys, policy, kNow));
  }
  state.counters["verifications/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_VerifyCold_RS256(benchmark::State& s) {
  verify_cold(s, "RS256");
}
void BM_VerifyCold_PS256(benchmark::State& s) {
  verify_cold(s, "PS256");
}
void BM_VerifyCold_ES256(benchmark::State& s) {
  verify_cold(s, "ES256");
}
void BM_VerifyCold_EdDSA(benchmark::State& s) {
  verify_cold(s, "EdDSA");
}

void BM_VerifyCacheHit_RS256(benchmark::State& state) {
  TestKey key = make_rsa_key(2048);
  const std::string file =
      (std::filesystem::temp_directory_path() / "mag_token_bench_jwks.json").string();
  {
    std::ofstream out(file);
    out << jwks_of({public_jwk(key, "k1")});
  }
  mag::config::Provider config;
  config.name = "bench";
  config.issuer = "https://issuer.test";
  config.jwks_file = file;
  std::unique_ptr<event_base, decltype(&event_base_free)> base(event_base_new(), event_base_free);
  auto key_provider = KeyProvider::create(base.get(), config);
  key_provider->start();
  auto loop = std::make_shared<mag::Mailbox>(base.get());
  auto provider = std::make_shared<ProviderView>(key_provider, loop.get(), loop);
  std::filesystem::remove(file);
  const std::string token =
      signed_token(key, "RS256", R"({"alg":"RS256","kid":"k1","typ":"at+jwt"})", kPayload);
  const VerifyPolicy policy = policy_for_alg("RS256");
  if (!provider->keys() || provider->verify(token, policy, kNow).reason != Reason::kOk) {
    state.SkipWithError("fixture token does not verify");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(provider->verify(token, policy, kNow));
  }
  state.counters["verifications/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_VerifyCold_RS256);
BENCHMARK(BM_VerifyCold_PS256);
BENCHMARK(BM_VerifyCold_ES256);
BENCHMARK(BM_VerifyCold_EdDSA);
BENCHMARK(BM_VerifyCacheHit_RS256);
BENCHMARK_MAIN();
