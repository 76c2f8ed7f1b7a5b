#!/usr/bin/env bash
# The compose test: docker-compose.yml (+ override: the local dev idp) built
# and started for real, then the official SDK client's OAuth flow against
# http://localhost:8000, then everything torn down again.
#
#   1. installs docker.io, docker-compose and debootstrap if missing (root/sudo)
#   2. starts dockerd if no engine answers (and stops it again at the end)
#   3. makes sure debian:bookworm-slim exists; where it cannot be pulled, builds
#      it with debootstrap + docker import, so the Dockerfiles stay unchanged
#   4. docker-compose build, up -d, waits until gateway and idp are healthy
#   5. node --test tests/e2e/compose_oauth.test.mjs
#   6. docker-compose down -v (always), prints image sizes and timings
#
# Environment: E2E_KEEP_STACK=1 leaves the stack running; E2E_REMOVE_IMAGES=1
# also removes the built images; DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS=0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
log() { echo "compose.sh [${SECONDS}s]: $*" >&2; }

# 1. Packages.
missing=()
for p in docker.io docker-compose debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
DOCKER=(docker)
COMPOSE=(docker-compose)
if [ -n "$SUDO" ]; then DOCKER=(sudo docker); COMPOSE=(sudo -E docker-compose); fi

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
  log "debian:bookworm-slim cannot be pulled: debootstrap + docker import"
  rootfs=$WORK/rootfs
  $SUDO debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
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
for port in 8000 9400; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is already in use on this machine; stop what listens there first"
    exit 1
  fi
done
log "docker-compose build"
build_start=$SECONDS
"${COMPOSE[@]}" build >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
log "images built in $((SECONDS - build_start))s"
STACK_UP=1
"${COMPOSE[@]}" up -d >&2

# One `docker inspect` per second for the three containers (docker-compose v1
# takes about a second to start, so it is asked for the ids only once).
ids=()
for s in backend gateway idp; do ids+=("$("${COMPOSE[@]}" ps -q "$s")"); done
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
log "SDK OAuth flow against http://localhost:8000/mcp"
test_start=$SECONDS
node --test --test-reporter=spec tests/e2e/compose_oauth.test.mjs >&2
log "client tests passed in $((SECONDS - test_start))s"

"${DOCKER[@]}" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
  grep -E '^(mcp-auth-gateway|mcp-add-server|mcp-dev-idp|debian):' | sed 's/^/compose.sh: image /' >&2
cd "$ROOT"
