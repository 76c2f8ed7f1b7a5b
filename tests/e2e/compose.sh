#!/usr/bin/env bash
# The compose test: docker-compose.yml (+ override: the local dev idp) built
# and started for real, then the official SDK client's OAuth flow against
# http://localhost:8000 and MCP Inspector in chromium through the same flow,
# then everything torn down again.
#
#   0. scripts/setup (node, chromium, the npm packages of tests/integration)
#   1. installs docker.io, docker-compose and mmdebstrap if missing (root/sudo)
#   2. starts dockerd if no engine answers (and stops it again at the end)
#   3. makes sure debian:bookworm-slim exists; where it cannot be pulled, builds
#      it with mmdebstrap + docker import, so the Dockerfiles stay unchanged
#   4. docker-compose build, up -d, waits until gateway and idp are healthy
#   5. node --test tests/e2e/compose_oauth.test.mjs (SDK client, also through
#      /exchanged: token exchange; the token-checking upstream's log is read), then
#      tests/e2e/inspector.test.mjs against the stack (Inspector on :6274,
#      screenshot artifacts/compose-inspector-add.png)
#   6. docker-compose down -v (always), prints image sizes and timings
#
# Environment: E2E_KEEP_STACK=1 leaves the stack running; E2E_REMOVE_IMAGES=1
# also removes the built images; DEBIAN_MIRROR (default http://deb.debian.org/debian);
# E2E_COMPOSE: the compose command, e.g. "docker compose" for v2 (default:
# docker-compose, else `docker compose` where only the v2 plugin is installed).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS=0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
log() { echo "compose.sh [${SECONDS}s]: $*" >&2; }

# 0. Node, chromium and the npm clients (idempotent; CI has run it already).
log "scripts/setup"
scripts/setup

# 1. Packages. Compose v2 alone (the `docker compose` plugin) is enough too.
compose_v2() { docker compose version >/dev/null 2>&1; }
want=(docker.io mmdebstrap)
if [ -z "${E2E_COMPOSE:-}" ] && ! command -v docker-compose >/dev/null && ! compose_v2; then want+=(docker-compose); fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ -n "${E2E_COMPOSE:-}" ]; then read -r -a COMPOSE <<<"$E2E_COMPOSE"
elif command -v docker-compose >/dev/null; then COMPOSE=(docker-compose)
else COMPOSE=(docker compose); fi
DOCKER=(docker)
if [ -n "$SUDO" ]; then DOCKER=(sudo docker); COMPOSE=(sudo -E "${COMPOSE[@]}"); fi

WORK=$(mktemp -d /tmp/mag-e2e.XXXXXX)
DOCKERD_PID=""
STACK_UP=0
cleanup() {
  local rc=$?
  if ((STACK_UP)) && [ "${E2E_KEEP_STACK:-0}" != 1 ]; then
    if ((rc != 0)); then "${COMPOSE[@]}" logs --no-color --tail=80 >&2 || true; fi
    log "docker-compose down -v"
    "${COMPOSE[@]}" down -v --remove-orphans >&2 || true
  fi
  if [ "${E2E_REMOVE_IMAGES:-0}" = 1 ]; then
    "${DOCKER[@]}" image rm mcp-auth-gateway:local mcp-add-server:local mcp-dev-idp:local >/dev/null 2>&1 || true
  fi
  if [ -n "$DOCKERD_PID" ] && [ "${E2E_KEEP_STACK:-0}" != 1 ]; then
    log "stopping the dockerd this script started (pid $DOCKERD_PID)"
    $SUDO kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 30); do $SUDO kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
  fi
  $SUDO rm -rf "$WORK"
  log "done, exit $rc, ${SECONDS}s in all"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# 2. An engine.
if ! "${DOCKER[@]}" info >/dev/null 2>&1; then
  log "no Docker engine answers: starting dockerd (log: $WORK/dockerd.log)"
  $SUDO dockerd >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 60); do "${DOCKER[@]}" info >/dev/null 2>&1 && break; sleep 1; done
  if ! "${DOCKER[@]}" info >/dev/null 2>&1; then
    tail -30 "$WORK/dockerd.log" >&2
    log "dockerd did not come up"
    exit 1
  fi
fi

# 3. The base image.
if ! "${DOCKER[@]}" image inspect debian:bookworm-slim >/dev/null 2>&1 &&
  ! timeout 120 "${DOCKER[@]}" pull debian:bookworm-slim >&2; then
  log "debian:bookworm-slim cannot be pulled: mmdebstrap + docker import"
  rootfs=$WORK/rootfs
  # mmdebstrap rather than debootstrap: one apt download and one dpkg run
  # (188 s against 340 s for debootstrap on a busy 2-core machine).
  $SUDO mmdebstrap --variant=minbase --dpkgopt=force-unsafe-io bookworm "$rootfs" \
    "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$WORK/mmdebstrap.log" 2>&1 ||
    { tail -20 "$WORK/mmdebstrap.log" >&2; exit 1; }
  $SUDO rm -f "$rootfs/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
  # Like the official image: updates and security sources, no docs or caches.
  $SUDO rm -f "$rootfs/etc/apt/sources.list"
  $SUDO tee "$rootfs/etc/apt/sources.list.d/debian.sources" >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  # The official image's apt settings: no .deb files or package caches left in layers.
  $SUDO tee "$rootfs/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'APTCONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APTCONF
  $SUDO rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  $SUDO tar -C "$rootfs" -c . | "${DOCKER[@]}" import --change 'CMD ["bash"]' - debian:bookworm-slim >&2
  $SUDO rm -rf "$rootfs"
fi

# 4. Build and start. Behind a TLS-intercepting proxy npm (in the idp image)
# needs the local CAs this machine trusts.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  EXTRA_CA_CERTS=$(cat /usr/local/share/ca-certificates/*.crt)
  export EXTRA_CA_CERTS
fi
for port in 8000 9400 6274; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is already in use on this machine; stop what listens there first"
    exit 1
  fi
done
log "${COMPOSE[*]} build ($("${COMPOSE[@]}" version 2>/dev/null | head -n1))"
build_start=$SECONDS
"${COMPOSE[@]}" build >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
log "images built in $((SECONDS - build_start))s"

# 4a. The external-IdP variant (Asgardeo's .env; no network to Asgardeo here):
# docker-compose.yml alone, with AUTH_ISSUER/CLIENT_ID/JWKS_URL from an env
# file, has no idp service and hands the three to the gateway, which then
# announces that issuer in its protected resource metadata and fetches its
# keys from that JWKS_URL (the fetch fails here: there is no route out).
ext_issuer=https://api.asgardeo.io/t/mag-e2e/oauth2/token
ext_jwks=https://api.asgardeo.io/t/mag-e2e/oauth2/jwks
ext_client=mag-e2e-client-id
printf 'AUTH_ISSUER=%s\nCLIENT_ID=%s\nJWKS_URL=%s\n' "$ext_issuer" "$ext_client" "$ext_jwks" >"$WORK/external.env"
EXT=("${COMPOSE[@]}" --env-file "$WORK/external.env" -f docker-compose.yml)
services=$("${EXT[@]}" config --services | sort | tr '\n' ' ')
[ "$services" = "backend gateway " ] || { log "external-IdP variant: services '$services', expected 'backend gateway '"; exit 1; }
ext_config=$("${EXT[@]}" config)
for kv in "AUTH_ISSUER: $ext_issuer" "CLIENT_ID: $ext_client" "JWKS_URL: $ext_jwks"; do
  grep -qF "$kv" <<<"$ext_config" || { echo "$ext_config" >&2; log "external-IdP variant: gateway environment lacks '$kv'"; exit 1; }
done
# With the override (the default), the local idp is there and wins.
services=$("${COMPOSE[@]}" --env-file "$WORK/external.env" config --services | sort | tr '\n' ' ')
[ "$services" = "backend exchanged gateway idp " ] || { log "default stack: services '$services', expected 'backend exchanged gateway idp '"; exit 1; }
log "external-IdP variant: starting gateway + backend without the idp"
STACK_UP=1
"${EXT[@]}" up -d >&2
prm_ok=0
for _ in $(seq 60); do
  if node -e '
    const [issuer] = process.argv.slice(1);
    fetch("http://localhost:8000/.well-known/oauth-protected-resource/mcp")
      .then((r) => r.json())
      .then((m) => process.exit(JSON.stringify(m.authorization_servers) === JSON.stringify([issuer]) ? 0 : 1), () => process.exit(1));
  ' "$ext_issuer"; then prm_ok=1; break; fi
  sleep 1
done
((prm_ok)) || { log "external-IdP variant: the gateway's metadata does not name $ext_issuer"; exit 1; }
jwks_status=$("${DOCKER[@]}" exec "$("${EXT[@]}" ps -q gateway)" bash -c \
  'exec 3<>/dev/tcp/127.0.0.1/9901 && printf "GET /jwks_status HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && cat <&3')
grep -qF "$ext_jwks" <<<"$jwks_status" || { echo "$jwks_status" >&2; log "external-IdP variant: /jwks_status does not name $ext_jwks"; exit 1; }
for s in idp exchanged; do
  [ -z "$("${DOCKER[@]}" ps -q --filter label=com.docker.compose.service=$s)" ] || { log "external-IdP variant: an $s container is running"; exit 1; }
done
log "external-IdP variant OK: no idp, metadata names $ext_issuer, keys from $ext_jwks"
"${EXT[@]}" down -v --remove-orphans >&2
STACK_UP=0

# 4b. The full stack (with the override: the local idp).
STACK_UP=1
"${COMPOSE[@]}" up -d >&2

# One `docker inspect` per second for the four containers (docker-compose v1
# takes about a second to start, so it is asked for the ids only once).
ids=()
for s in backend exchanged gateway idp; do ids+=("$("${COMPOSE[@]}" ps -q "$s")"); done
statuses() { "${DOCKER[@]}" inspect -f '{{.Name}}={{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "${ids[@]}"; }
for _ in $(seq 120); do
  ! statuses | grep -qv '=healthy$' && break
  sleep 1
done
statuses | sed 's/^/compose.sh: /' >&2
if statuses | grep -qv '=healthy$'; then
  log "not every container is healthy"
  exit 1
fi

# 5. The clients.
log "SDK OAuth flow against http://localhost:8000/mcp, then /exchanged (token exchange)"
test_start=$SECONDS
node --test --test-reporter=spec tests/e2e/compose_oauth.test.mjs >&2
log "SDK client test passed in $((SECONDS - test_start))s"
# What the token-checking upstream saw: the exchanged token (sub dev, its own
# audience, act.sub the gateway's client), and no token it refused (the
# healthcheck's requests come without one: token_sha256=-).
checker_log=$("${COMPOSE[@]}" logs --no-color exchanged)
accepted=$(grep -c 'checker: accepted POST /mcp sub=dev aud=http://exchanged:9500/mcp act.sub=mcp-gateway ' <<<"$checker_log" || true)
refused_tokens=$(grep 'checker: refused' <<<"$checker_log" | grep -vc 'token_sha256=- ' || true)
if ((accepted < 3 || refused_tokens != 0)); then
  echo "$checker_log" >&2
  log "exchanged: $accepted accepted exchanged-token requests (expected >= 3), $refused_tokens refused tokens (expected 0)"
  exit 1
fi
log "exchanged: $accepted requests with an exchanged token (sub dev, act.sub mcp-gateway), no token refused"
log "MCP Inspector in chromium against http://localhost:8000/mcp"
test_start=$SECONDS
E2E_GATEWAY_URL=http://localhost:8000/mcp E2E_INSPECTOR_PORT=6274 \
  E2E_SCREENSHOT="$ROOT/artifacts/compose-inspector-add.png" \
  node --test --test-reporter=spec tests/e2e/inspector.test.mjs >&2
log "Inspector test passed in $((SECONDS - test_start))s (screenshot artifacts/compose-inspector-add.png)"

"${DOCKER[@]}" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
  grep -E '^(mcp-auth-gateway|mcp-add-server|mcp-dev-idp|debian):' | sed 's/^/compose.sh: image /' >&2
cd "$ROOT"
