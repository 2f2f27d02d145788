#!/usr/bin/env bash
# Builds the contracts and copies the forge artifacts the Rust side binds with alloy's `sol!` into
# contracts/artifacts/<Contract>.json (committed, so a fresh clone's cargo build never needs forge).
# Each file keeps forge's layout for the fields alloy reads: abi, bytecode.object,
# deployedBytecode.object, methodIdentifiers. Bytecode is reproducible (bytecode_hash = "none",
# cbor_metadata = false in foundry.toml), so re-running this on an unchanged tree changes nothing.
# `export-artifacts.sh --check` writes to a temporary folder and fails if the committed files are stale.
set -euo pipefail
cd "$(dirname "$0")"
FORGE="${FORGE:-../.tools/bin/forge}"
"$FORGE" build
DEST=artifacts
if [ "${1:-}" = "--check" ]; then DEST="$(mktemp -d)"; trap 'rm -rf "$DEST"' EXIT; fi
mkdir -p "$DEST"
for c in ModelToken ModelRegistry PaymentVault UsageOracle JudgeVM InferenceDispute AckReferee; do
  node -e '
    const fs = require("fs");
    const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const out = {
      contractName: process.argv[2],
      abi: a.abi,
      bytecode: { object: a.bytecode.object },
      deployedBytecode: { object: a.deployedBytecode.object },
      methodIdentifiers: a.methodIdentifiers,
    };
    fs.writeFileSync(process.argv[3], JSON.stringify(out, null, 2) + "\n");
  ' "out/$c.sol/$c.json" "$c" "$DEST/$c.json"
  if [ "$DEST" = artifacts ]; then
    echo "artifacts/$c.json"
  elif ! cmp -s "$DEST/$c.json" "artifacts/$c.json"; then
    echo "artifacts/$c.json is stale: run contracts/export-artifacts.sh" >&2
    exit 1
  fi
done
