#!/usr/bin/env bash
# `make run`: starts imo-oracle on the embedded SQLite default (./data), creates a dev publisher
# key, registers a real model (silero VAD from PyPI) and prints what to try next. Ctrl-C stops.
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

say() { printf '\033[1;32m[run]\033[0m %s\n' "$*"; }

if curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null; then
  echo "error: something already answers on $URL; stop it or set IMO_SERVER_BIND=127.0.0.1:<port>" >&2
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

"$IMO" serve &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
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

$(say "imo-oracle is running at $URL (SQLite at data/imo.db, models in data/models). Ctrl-C stops it.")
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
  dev keys: publisher $KEY_FILE, client $CLIENT_KEY_FILE, admin $ADMIN_KEY_FILE; receipts are signed by $OPERATOR
MSG
wait "$PID"
