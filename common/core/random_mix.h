#pragma once

// Two small building blocks for values an outsider must not predict: a
// random 64-bit key drawn once (per thread, per cache) and a bijective
// mixer to key a value with. Used by the request ids (proxy/telemetry/access_log.cpp)
// and the keyed buckets of the token cache's negative side
// (proxy/auth/token_cache.cpp).

#include <openssl/rand.h>

#include <chrono>
#include <cstdint>

namespace mag {

// splitmix64's finaliser: a bijection on 64 bits in which every output bit
// depends on every input bit.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// 64 bits from OpenSSL's RNG. If the RNG fails, the clock mixed with
// `fallback_salt`: the callers only need keys that differ between uses, and
// an RNG failure is not a reason to refuse requests.
inline uint64_t random_u64(uint64_t fallback_salt = 0) {
  uint64_t value = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value) == 1) return value;
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return mix64(static_cast<uint64_t>(now) ^ fallback_salt);
}

}  // namespace mag
