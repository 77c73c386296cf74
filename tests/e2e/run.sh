#!/usr/bin/env bash
# Herald's browser tests: Debian's headless Chromium driven by playwright-core, with node's own test runner.
#   tests/e2e/run.sh [test files…]        (default: every tests/*.test.mjs)
# Env: HERALD_SERVER  herald-server binary (default build/ci/server/herald-server, relative to the repo root)
#      HERALD_CHROMIUM  browser binary (default /usr/bin/chromium)
# Installs what is missing first (as root, or with sudo): chromium and Node.js/npm from Debian's archive,
# playwright-core from the npm registry (npm ci, pinned by package-lock.json). Screenshots go to
# tests/e2e/artifacts/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$HERE"

log() { printf '[e2e] %s\n' "$*" >&2; }

apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  log "installing: $*"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
[[ -x "${HERALD_CHROMIUM:-/usr/bin/chromium}" ]] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
# A Node.js that ships its own npm (e.g. NodeSource's) must not get Debian's npm on top of it.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 18)); then
  log "Node.js $(node --version) is too old: playwright-core needs 18 or later (Debian bookworm has 18)"
  exit 1
fi

# npm ci only when the installed tree does not match the lock file.
if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s <(node -p 'JSON.stringify(require("./package-lock.json").packages["node_modules/playwright-core"].version)') \
  <(node -p 'try { JSON.stringify(require("./node_modules/playwright-core/package.json").version) } catch { "" }'); then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

HERALD_SERVER="${HERALD_SERVER:-build/ci/server/herald-server}"
[[ "$HERALD_SERVER" == /* ]] || HERALD_SERVER="$ROOT/$HERALD_SERVER"
export HERALD_SERVER
if [[ ! -x "$HERALD_SERVER" ]]; then
  log "no herald-server at $HERALD_SERVER (build it, or set HERALD_SERVER)"
  exit 1
fi
mkdir -p artifacts

files=("$@")
if ((${#files[@]} == 0)); then files=(tests/*.test.mjs); fi
# One file at a time: each file runs a browser and servers of its own. A loop rather than
# --test-concurrency, which Debian bookworm's Node.js 18 does not have.
failed=0
for f in "${files[@]}"; do
  node --test --test-reporter=spec "$f" || failed=$((failed + 1))
done
if ((failed)); then
  log "$failed of ${#files[@]} test files failed"
  exit 1
fi
