#!/usr/bin/env bash
# Builds the dashboard (web/) into web/dist, which `cargo build` then embeds in the imo binary
# (api/build.rs, api/src/routes/app.rs). Installs the pinned front-end dependencies with `npm ci`
# from the committed web/package-lock.json into web/node_modules when the lock changed (stamp:
# web/node_modules/.imo-lock.sha256), then bundles with esbuild (web/build.mjs), which rewrites
# only what changed. Both folders are git-ignored. Only the npm registry is contacted.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WEB="$ROOT/web"
log() { printf '\033[1;34m[web]\033[0m %s\n' "$*" >&2; }

command -v node >/dev/null || { echo "error: Node.js is missing (>= 20.19 is needed to build the dashboard in web/)" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm is missing (it comes with Node.js)" >&2; exit 1; }
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || { echo "error: Node.js $(node --version) is too old for web/ (>= 20.19)" >&2; exit 1; }

want="$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)"
stamp="$WEB/node_modules/.imo-lock.sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci (web/package-lock.json)"
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error >&2)
  printf '%s' "$want" > "$stamp"
fi
(cd "$WEB" && node build.mjs)
