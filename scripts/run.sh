#!/usr/bin/env bash
# `make run`: starts a local chain (anvil from .tools/, 127.0.0.1:8545), deploys the contracts to
# it, starts imo-oracle on the embedded SQLite default (./data) signing receipts for the deployed
# UsageOracle, creates dev keys, registers a real model (silero VAD from PyPI) and prints what to
# try next. Ctrl-C stops the service and anvil.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
IMO="${CARGO_TARGET_DIR:-$ROOT/target}/debug/imo"
export IMO_SERVER_BIND="${IMO_SERVER_BIND:-127.0.0.1:8080}"
export IMO_DATABASE_URL="${IMO_DATABASE_URL:-sqlite://data/imo.db?mode=rwc}"
URL="http://$IMO_SERVER_BIND"
# anvil's first dev account: the same address will own the model's token once the chain is wired.
DEV_PUBLISHER="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
DEV_CLIENT="0x70997970C51812dc3A010C7d01b50e0d17dc79C8"   # anvil's second dev account
KEY_FILE="data/dev-publisher.key"
CLIENT_KEY_FILE="data/dev-client.key"
ADMIN_KEY_FILE="data/dev-admin.key"
export IMO_METERING_OPERATOR_KEY_FILE="${IMO_METERING_OPERATOR_KEY_FILE:-data/operator.key}"
ANVIL=".tools/bin/anvil"
ANVIL_HOST=127.0.0.1
ANVIL_PORT=8545
export IMO_CHAIN_RPC_URL="http://$ANVIL_HOST:$ANVIL_PORT"
export IMO_CHAIN_CHAIN_ID=31337
export IMO_CHAIN_DEPLOYER_KEY_FILE="${IMO_CHAIN_DEPLOYER_KEY_FILE:-data/deployer.key}"
# anvil's first dev key (public knowledge: for the local chain only).
ANVIL_DEV_KEY="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

say() { printf '\033[1;32m[run]\033[0m %s\n' "$*"; }

if curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null; then
  echo "error: something already answers on $URL; stop it or set IMO_SERVER_BIND=127.0.0.1:<port>" >&2
  exit 1
fi
if [ ! -x "$ANVIL" ]; then
  echo "error: $ANVIL is missing: run \`scripts/install-tools.sh npm\` (or \`make tools\`)" >&2
  exit 1
fi
if (exec 3<>"/dev/tcp/$ANVIL_HOST/$ANVIL_PORT") 2>/dev/null; then
  echo "error: port $ANVIL_HOST:$ANVIL_PORT is taken (another anvil or node?); make run starts its own local chain there: stop it first" >&2
  exit 1
fi
mkdir -p data
"$IMO" migrate >/dev/null
OPERATOR="$("$IMO" operator init --out "$IMO_METERING_OPERATOR_KEY_FILE")"
dev_key() { # dev_key FILE ADDRESS ROLE
  if [ ! -s "$1" ]; then
    (umask 077; "$IMO" keys create --address "$2" --role "$3" --label "make run dev $3" --quiet > "$1")
  fi
}
dev_key "$KEY_FILE" "$DEV_PUBLISHER" publisher
dev_key "$CLIENT_KEY_FILE" "$DEV_CLIENT" client
dev_key "$ADMIN_KEY_FILE" "$DEV_PUBLISHER" admin
KEY="$(cat "$KEY_FILE")"

PID=""
ANVIL_PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -n "$ANVIL_PID" ]; then kill -TERM "$ANVIL_PID" 2>/dev/null || true; wait "$ANVIL_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting a local chain: $ANVIL on $IMO_CHAIN_RPC_URL (chain id $IMO_CHAIN_CHAIN_ID, log in data/anvil.log)"
"$ANVIL" --host "$ANVIL_HOST" --port "$ANVIL_PORT" --chain-id "$IMO_CHAIN_CHAIN_ID" > data/anvil.log 2>&1 &
ANVIL_PID=$!
chain_id() {
  curl -fsS -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$IMO_CHAIN_RPC_URL" 2>/dev/null
}
for _ in $(seq 1 100); do
  chain_id >/dev/null && break
  kill -0 "$ANVIL_PID" 2>/dev/null || { echo "error: anvil exited during start-up:" >&2; cat data/anvil.log >&2; exit 1; }
  sleep 0.1
done
chain_id >/dev/null || { echo "error: anvil did not answer eth_chainId on $IMO_CHAIN_RPC_URL" >&2; exit 1; }
if [ ! -s "$IMO_CHAIN_DEPLOYER_KEY_FILE" ]; then
  (umask 077; echo "$ANVIL_DEV_KEY" > "$IMO_CHAIN_DEPLOYER_KEY_FILE")
fi
say "deploying the contracts (deployer: anvil's first dev account, key in $IMO_CHAIN_DEPLOYER_KEY_FILE)"
"$IMO" contracts deploy | tee data/deploy.log
USAGE_ORACLE="$(awk '$1 == "UsageOracle" { print $2 }' data/deploy.log)"
[ -n "$USAGE_ORACLE" ] || { echo "error: no UsageOracle address in the deploy output" >&2; exit 1; }
export IMO_METERING_VERIFYING_CONTRACT="$USAGE_ORACLE"
export IMO_METERING_CHAIN_ID="$IMO_CHAIN_CHAIN_ID"
say "receipts are signed for UsageOracle $USAGE_ORACLE on chain $IMO_METERING_CHAIN_ID"

"$IMO" serve &
PID=$!
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { echo "error: the service exited during start-up (see the log above)" >&2; exit 1; }
  sleep 0.5
done
curl -fsS -o /dev/null "$URL/readyz" || { echo "error: the service did not become ready" >&2; exit 1; }

say "registering a real model: silero VAD (from the PyPI package silero-vad)"
IMO_URL="$URL" IMO_API_KEY="$KEY" "$IMO" models register .tools/models/silero_vad.onnx \
  --name silero-vad --price-wei 1000000000000 --version 6.2.3 \
  --description "Silero voice activity detector (MIT), from the PyPI package silero-vad 6.2.3"
say "crediting the dev client $DEV_CLIENT with 0.01 ETH (admin endpoint; on-chain deposits come with the chain loop)"
IMO_URL="$URL" IMO_API_KEY="$(cat "$ADMIN_KEY_FILE")" "$IMO" balances credit "$DEV_CLIENT" 10000000000000000
say "one metered call (tiny_mlp) to show a signed receipt"
IMO_URL="$URL" IMO_API_KEY="$KEY" "$IMO" models register .tools/models/tiny_mlp.onnx --name tiny-mlp --price-wei 1000000000 >/dev/null
curl -fsS -H "Authorization: Bearer $(cat "$CLIENT_KEY_FILE")" -H 'content-type: application/json' \
  -d '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}' \
  "$URL/v2/models/tiny-mlp/infer" | python3 -m json.tool

cat <<MSG

$(say "imo-oracle is running at $URL (SQLite at data/imo.db, models in data/models), anvil at $IMO_CHAIN_RPC_URL. Ctrl-C stops both.")
  API docs (Swagger UI):   $URL/docs/
  list models:             curl -s $URL/v1/models | python3 -m json.tool
  weights commitment:      curl -s $URL/v1/models/silero-vad/weights | python3 -m json.tool
  prove one tensor:        curl -s $URL/v1/models/silero-vad/weights/0/proof | python3 -m json.tool
  upload another model:    IMO_API_KEY=\$(cat $KEY_FILE) $IMO models register .tools/models/tiny_mlp.onnx --price-wei 1000
  sign in with a wallet:   curl -s -X POST $URL/v1/auth/nonce   (then POST /v1/auth/siwe, see the docs)
  infer (Open Inference Protocol): curl -s -H "Authorization: Bearer \$(cat $CLIENT_KEY_FILE)" -d '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}' $URL/v2/models/tiny-mlp/infer
  your receipts:           curl -s -H "Authorization: Bearer \$(cat $CLIENT_KEY_FILE)" $URL/v1/receipts
  balance:                 curl -s -H "Authorization: Bearer \$(cat $CLIENT_KEY_FILE)" $URL/v1/balance
  publisher usage:         curl -s -H "Authorization: Bearer \$(cat $KEY_FILE)" $URL/v1/usage
  metrics:                 curl -s $URL/metrics
  contracts:               $IMO contracts show   (UsageOracle $USAGE_ORACLE verifies the receipts)
  dev keys: publisher $KEY_FILE, client $CLIENT_KEY_FILE, admin $ADMIN_KEY_FILE; receipts are signed by $OPERATOR
MSG
wait "$PID"
