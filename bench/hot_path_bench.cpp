// Micro-benchmarks of the per-request work of the gateway other
// than signature verification (bench/token_bench.cpp covers that and the
// token-cache hit): JSON-RPC inspection of a tools/call body, header
// forwarding (the upstream request head), WWW-Authenticate formatting, the
// verified-token cache key. Built on demand: make hot_path_bench.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "common/http/http_message.h"
#include "proxy/auth/token_cache.h"
#include "proxy/auth/www_authenticate.h"
#include "proxy/mcp/jsonrpc_inspect.h"
#include "proxy/router/header_forwarding.h"

namespace {

constexpr std::string_view kAddCall =
    R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}})";

// A token-sized string (an RS256 access token is 700-900 bytes); only its
// length matters for hashing.
std::string token_like() {
  return std::string(820, 'x');
}

mag::http::RequestHead typical_request() {
  mag::http::RequestHead head;
  head.method = "POST";
  head.target = "/mcp";
  head.path = "/mcp";
  head.headers.add("Host", "127.0.0.1:8000");
  head.headers.add("User-Agent", "node");
  head.headers.add("Accept", "application/json, text/event-stream");
  head.headers.add("Content-Type", "application/json");
  head.headers.add("Content-Length", std::to_string(kAddCall.size()));
  head.headers.add("Authorization", "Bearer " + token_like());
  head.headers.add("Mcp-Session-Id", "3f1c2a9e-5b0d-4d7e-9a51-0c6f4b2e8d11");
  head.headers.add("Mcp-Protocol-Version", "2025-11-25");
  head.headers.add("Connection", "keep-alive");
  return head;
}

void BM_InspectToolsCall(benchmark::State& state) {
  for (auto _ : state) {
    auto result = mag::mcp::inspect_jsonrpc(kAddCall);
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_InspectToolsCall);

void BM_MakeUpstreamRequest(benchmark::State& state) {
  const mag::http::RequestHead downstream = typical_request();
  mag::proxy::ForwardContext context;
  context.peer_address = "127.0.0.1";
  context.upstream_host = "127.0.0.1:9000";
  for (auto _ : state) {
    auto up = mag::proxy::make_upstream_request(downstream, context);
    benchmark::DoNotOptimize(up);
  }
}
BENCHMARK(BM_MakeUpstreamRequest);

void BM_WwwAuthenticateNoCredentials(benchmark::State& state) {
  const std::string prm = "http://localhost:8000/.well-known/oauth-protected-resource/mcp";
  for (auto _ : state) {
    auto value = mag::auth::www_authenticate_no_credentials(prm);
    benchmark::DoNotOptimize(value);
  }
}
BENCHMARK(BM_WwwAuthenticateNoCredentials);

void BM_WwwAuthenticateInvalidToken(benchmark::State& state) {
  const std::string prm = "http://localhost:8000/.well-known/oauth-protected-resource/mcp";
  for (auto _ : state) {
    auto value = mag::auth::www_authenticate_invalid_token(prm, "The token has expired");
    benchmark::DoNotOptimize(value);
  }
}
BENCHMARK(BM_WwwAuthenticateInvalidToken);

void BM_TokenCacheKey(benchmark::State& state) {
  const std::string token = token_like();
  const std::string context = "http://localhost:8000/mcp";
  for (auto _ : state) {
    auto key = mag::auth::TokenCache::cache_key(token, context);
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_TokenCacheKey);

// What a cached token costs the request: the key, the lookup, the claims copy.
void BM_TokenCacheHit(benchmark::State& state) {
  const std::string token = token_like();
  const std::string context = "http://localhost:8000/mcp";
  mag::auth::TokenCache cache;
  mag::auth::Claims claims;
  claims.subject = "user-1234";
  claims.expires_at = 4'000'000'000;
  cache.insert(mag::auth::TokenCache::cache_key(token, context), claims, "fp", 0, 1);
  for (auto _ : state) {
    auto hit = cache.find(mag::auth::TokenCache::cache_key(token, context), 2);
    benchmark::DoNotOptimize(hit);
  }
}
BENCHMARK(BM_TokenCacheHit);

}  // namespace

BENCHMARK_MAIN();
