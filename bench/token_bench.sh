#!/usr/bin/env bash
# Token-verification throughput next to raw OpenSSL verify speed on this
# machine. Builds bench/token_bench in a Release build directory
# (build-bench by default) and prints both tables.
#   bench/token_bench.sh [build-dir]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build-bench}"
# -Wno-restrict: GCC 12 reports a false -Wrestrict (GCC bug 105329) in
# std::string code at -O2, which -Werror would turn into a build failure.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-Wno-restrict >/dev/null
make -C "$build" -j2 token_bench >/dev/null

echo "== gateway verify_jwt (full path) and cache hit =="
"$build/bench/token_bench" --benchmark_min_time=1 --benchmark_format=console 2>/dev/null |
  awk '/^BM_/ { for (i = 1; i <= NF; i++) if ($i ~ /verifications\/s=/) { v = $i; sub(/verifications\/s=/, "", v); printf "%-28s %12s verifications/s\n", $1, v } }'

echo
echo "== openssl speed -seconds 2 rsa2048 ecdsap256 ed25519 (verify/s column) =="
openssl speed -seconds 2 rsa2048 ecdsap256 ed25519 2>/dev/null |
  awk '/^rsa 2048 bits/ { printf "%-28s %12s verify/s\n", "openssl rsa2048", $NF }
       /^ 256 bits ecdsa/ { printf "%-28s %12s verify/s\n", "openssl ecdsap256", $NF }
       /^ 253 bits EdDSA/ { printf "%-28s %12s verify/s\n", "openssl ed25519", $NF }'
