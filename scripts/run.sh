#!/usr/bin/env bash
# `make run`: starts a local chain (anvil from .tools/, 127.0.0.1:8545, one block a second),
# deploys the contracts, starts imo-oracle on the embedded SQLite default (./data) with the chain
# loop on and short epochs, registers real models (silero VAD from PyPI, tiny-mlp), and then runs
# one whole royalty cycle with anvil's dev accounts: tokenize → give 30 % of the tokens to a
# holder → the client deposits and authorises spending → metered calls → epoch close → attest →
# challenge window → finalize → the holder claims. The service's log names each step and
# transaction; the script prints the gas of every on-chain action at the end. The local chain is
# new on each run, so the previous data/ is moved to data.prev/. Ctrl-C stops the service and
# anvil.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
IMO="${CARGO_TARGET_DIR:-$ROOT/target}/debug/imo"
export IMO_SERVER_BIND="${IMO_SERVER_BIND:-127.0.0.1:8080}"
export IMO_DATABASE_URL="${IMO_DATABASE_URL:-sqlite://data/imo.db?mode=rwc}"
URL="http://$IMO_SERVER_BIND"
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
# The chain loop, with epochs and windows short enough to watch (defaults: 1 h epochs, 2 h window).
export IMO_CHAIN_ENABLED=true
export IMO_METERING_EPOCH_SECS="${IMO_METERING_EPOCH_SECS:-10}"
export IMO_CHAIN_EPOCH_GRACE_SECS="${IMO_CHAIN_EPOCH_GRACE_SECS:-2}"
export IMO_CHAIN_CHALLENGE_WINDOW_SECS="${IMO_CHAIN_CHALLENGE_WINDOW_SECS:-15}"
export IMO_CHAIN_RESPONSE_WINDOW_SECS="${IMO_CHAIN_RESPONSE_WINDOW_SECS:-10}"
export IMO_CHAIN_WITHDRAWAL_DELAY_SECS="${IMO_CHAIN_WITHDRAWAL_DELAY_SECS:-60}"
export IMO_CHAIN_EPOCHS_SCHEDULE="${IMO_CHAIN_EPOCHS_SCHEDULE:-* * * * * *}"
export IMO_CHAIN_INDEX_SCHEDULE="${IMO_CHAIN_INDEX_SCHEDULE:-* * * * * *}"
export IMO_LOG_FILTER="${IMO_LOG_FILTER:-info,ort=warn,sqlx=warn,sea_orm=warn,actix_server=warn}"

say() { printf '\033[1;32m[run]\033[0m %s\n' "$*"; }
# anvil's dev keys 0 (the deployer and publisher), 1 (the client) and 2 (the token holder);
# anvil and the service, stopped on exit.
# shellcheck source=scripts/local-chain.sh
. "$ROOT/scripts/local-chain.sh"

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
if [ -e data ]; then
  rm -rf data.prev && mv data data.prev
  say "the local chain is new on each run: moved the previous data/ to data.prev/"
fi
mkdir -p data
"$IMO" migrate >/dev/null
OPERATOR="$("$IMO" operator init --out "$IMO_METERING_OPERATOR_KEY_FILE")"
dev_key() { # dev_key FILE ADDRESS ROLE
  if [ ! -s "$1" ]; then
    (umask 077; "$IMO" keys create --address "$2" --role "$3" --label "make run dev $3" --quiet > "$1")
  fi
}
DEV_PUBLISHER="$(wallet_key data/publisher.wallet.key "$ANVIL_DEV_KEY")"
DEV_CLIENT="$(wallet_key data/client.wallet.key "$ANVIL_DEV_KEY_1")"
DEV_HOLDER="$(wallet_key data/holder.wallet.key "$ANVIL_DEV_KEY_2")"
dev_key "$KEY_FILE" "$DEV_PUBLISHER" publisher
dev_key "$CLIENT_KEY_FILE" "$DEV_CLIENT" client
dev_key "$ADMIN_KEY_FILE" "$DEV_PUBLISHER" admin
KEY="$(cat "$KEY_FILE")"

say "starting a local chain: $ANVIL on $IMO_CHAIN_RPC_URL (chain id $IMO_CHAIN_CHAIN_ID, a block a second, log in data/anvil.log)"
start_anvil data/anvil.log --host "$ANVIL_HOST" --port "$ANVIL_PORT" --chain-id "$IMO_CHAIN_CHAIN_ID" --block-time 1
if [ ! -s "$IMO_CHAIN_DEPLOYER_KEY_FILE" ]; then
  (umask 077; echo "$ANVIL_DEV_KEY" > "$IMO_CHAIN_DEPLOYER_KEY_FILE")
fi
say "deploying the contracts (deployer: anvil's first dev account, key in $IMO_CHAIN_DEPLOYER_KEY_FILE)"
"$IMO" contracts deploy | tee data/deploy.log
USAGE_ORACLE="$(awk '$1 == "UsageOracle" { print $2 }' data/deploy.log)"
[ -n "$USAGE_ORACLE" ] || { echo "error: no UsageOracle address in the deploy output" >&2; exit 1; }
say "the chain loop is on: receipts are signed for UsageOracle $USAGE_ORACLE; epochs of $IMO_METERING_EPOCH_SECS s, challenge window $IMO_CHAIN_CHALLENGE_WINDOW_SECS s"

start_service
if curl -fsS -o /dev/null "$URL/app/" 2>/dev/null; then
  say "dashboard: $URL/app/ — open it now to watch the royalty cycle live (Overview: models and epochs; Publisher: sign in with the key in $KEY_FILE)"
else
  echo "warning: $URL/app/ does not serve the dashboard (this binary was built without web/dist: run \`make build\`)" >&2
fi

api() { curl -fsS -H "Authorization: Bearer $1" "$URL$2"; }
json() { python3 -c "import sys, json; v = json.load(sys.stdin); print($1)"; }
# wait_for WHAT SECONDS COMMAND...: runs COMMAND every half second until it succeeds.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || { echo "error: timed out after ${secs} s waiting for: $what" >&2; exit 1; }
    kill -0 "$PID" 2>/dev/null || { echo "error: the service exited (see the log above)" >&2; exit 1; }
    sleep 0.5
  done
}
PUB=(env IMO_URL="$URL" IMO_API_KEY="$KEY")
CLIENT_KEY="$(cat "$CLIENT_KEY_FILE")"
ADMIN_KEY="$(cat "$ADMIN_KEY_FILE")"
T0=$(date +%s)

say "1. publisher $DEV_PUBLISHER registers real models: silero VAD (PyPI silero-vad) and tiny-mlp"
"${PUB[@]}" "$IMO" models register .tools/models/silero_vad.onnx \
  --name silero-vad --price-wei 1000000000000 --version 6.2.3 \
  --description "Silero voice activity detector (MIT), from the PyPI package silero-vad 6.2.3"
"${PUB[@]}" "$IMO" models register .tools/models/tiny_mlp.onnx --name tiny-mlp --price-wei 1000000000000000 >/dev/null
say "2. the publisher tokenizes tiny-mlp: 1,000,000 TMLP tokens minted to it, 80 % of revenue to holders"
"${PUB[@]}" "$IMO" models tokenize tiny-mlp --token-name "Tiny MLP" --symbol TMLP --supply-tokens 1000000 --holders-bps 8000 --wait
"${PUB[@]}" "$IMO" models tokenize silero-vad --token-name "Silero VAD" --symbol SVAD --supply-tokens 1000000 --holders-bps 8000 >/dev/null
say "3. the publisher gives 30 % of the tokens to holder $DEV_HOLDER"
IMO_URL="$URL" "$IMO" wallet --key-file data/publisher.wallet.key transfer --model tiny-mlp --to "$DEV_HOLDER" --amount-tokens 300000
say "4. client $DEV_CLIENT deposits 1 ETH into the vault and authorises spending 1 ETH (signed SpendingCap)"
CW=(env IMO_URL="$URL" IMO_API_KEY="$CLIENT_KEY" "$IMO" wallet --key-file data/client.wallet.key)
"${CW[@]}" deposit 1000000000000000000
"${CW[@]}" authorize 1000000000000000000
available() { [ "$(api "$CLIENT_KEY" /v1/balance | json 'v["available_wei"]')" != "0" ]; }
wait_for "the deposit and the cap to be indexed" 30 available
IMO_URL="$URL" IMO_API_KEY="$CLIENT_KEY" "$IMO" balances show
say "5. 20 metered calls to tiny-mlp at 0.001 ETH (Open Inference Protocol); the last response:"
for i in $(seq 1 20); do
  OUT="$(curl -fsS -H "Authorization: Bearer $CLIENT_KEY" -H 'content-type: application/json' \
    -d '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}' "$URL/v2/models/tiny-mlp/infer")"
done
echo "$OUT" | python3 -m json.tool
EPOCHS="$(api "$CLIENT_KEY" '/v1/receipts?limit=1000' | json '" ".join(sorted({str(r["epoch"]) for r in v["receipts"]}))')"
LAST_RECEIPT="$(echo "$OUT" | json 'v["parameters"]["imo_receipt_id"]')"
say "6. waiting for epoch(s) $EPOCHS to close, be attested, sit out the ${IMO_CHAIN_CHALLENGE_WINDOW_SECS} s challenge window and be finalized"
epochs_in() { for e in $EPOCHS; do [ "$(curl -fsS "$URL/v1/epochs/$e" | json 'v["state"]')" = "$1" ] || return 1; done; }
wait_for "epochs $EPOCHS attested" 60 epochs_in attested
for e in $EPOCHS; do curl -fsS "$URL/v1/epochs/$e" | json '"  epoch %d round %d attested: %d receipts, %s wei, root %s" % (v["epoch"], v["round"], v["count"], v["total_wei"], v["root"])'; done
say "   the client checks its receipt $LAST_RECEIPT against the attested root:"
api "$CLIENT_KEY" "/v1/receipts/$LAST_RECEIPT/proof" | json '"  leaf %d of %d, root %s, proof of %d hashes" % (v["index"], v["count"], v["root"], len(v["proof"]))'
wait_for "epochs $EPOCHS finalized" 90 epochs_in finalized
IMO_URL="$URL" "$IMO" models revenue tiny-mlp
say "7. holder $DEV_HOLDER claims its share (30 % of the holders' 80 %)"
curl -fsS "$URL/v1/holders/$DEV_HOLDER/claimable" | json '"  claimable: %s wei" % v["total_claimable_wei"]'
IMO_URL="$URL" "$IMO" wallet --key-file data/holder.wallet.key claim --model tiny-mlp
say "royalty cycle done in $(( $(date +%s) - T0 )) s. The operator's on-chain actions:"
IMO_URL="$URL" IMO_API_KEY="$ADMIN_KEY" "$IMO" transactions

cat <<MSG

$(say "imo-oracle is running at $URL (SQLite at data/imo.db, models in data/models), anvil at $IMO_CHAIN_RPC_URL. Ctrl-C stops both.")
  dashboard:               $URL/app/  (the epochs of the cycle above on the Overview; Publisher: sign in with
                           the key in $KEY_FILE; Holder and Client: a wallet on $IMO_CHAIN_RPC_URL, chain $IMO_CHAIN_CHAIN_ID,
                           with anvil's dev key 2 (holder) or 1 (client), or sign in as client with $CLIENT_KEY_FILE)
  API docs (Swagger UI):   $URL/docs/
  contracts:               curl -s $URL/v1/contracts | python3 -m json.tool
  list models:             curl -s $URL/v1/models | python3 -m json.tool
  weights commitment:      curl -s $URL/v1/models/silero-vad/weights | python3 -m json.tool
  prove one tensor:        curl -s $URL/v1/models/silero-vad/weights/0/proof | python3 -m json.tool
  infer (Open Inference Protocol): curl -s -H "Authorization: Bearer \$(cat $CLIENT_KEY_FILE)" -d '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}' $URL/v2/models/tiny-mlp/infer
  your receipts:           curl -s -H "Authorization: Bearer \$(cat $CLIENT_KEY_FILE)" $URL/v1/receipts
  a receipt's proof:       curl -s -H "Authorization: Bearer \$(cat $CLIENT_KEY_FILE)" $URL/v1/receipts/$LAST_RECEIPT/proof
  balance:                 curl -s -H "Authorization: Bearer \$(cat $CLIENT_KEY_FILE)" $URL/v1/balance
  revenue:                 $IMO models revenue tiny-mlp
  claimable:               curl -s $URL/v1/holders/$DEV_HOLDER/claimable | python3 -m json.tool
  wallets:                 IMO_API_KEY=\$(cat $CLIENT_KEY_FILE) $IMO wallet --key-file data/client.wallet.key show
                           $IMO wallet --key-file data/holder.wallet.key show --model tiny-mlp
  operator transactions:   IMO_API_KEY=\$(cat $ADMIN_KEY_FILE) $IMO transactions
  publisher usage:         curl -s -H "Authorization: Bearer \$(cat $KEY_FILE)" $URL/v1/usage
  metrics:                 curl -s $URL/metrics
  dev keys: publisher $KEY_FILE, client $CLIENT_KEY_FILE, admin $ADMIN_KEY_FILE; wallets data/*.wallet.key (anvil dev accounts); receipts are signed by $OPERATOR
MSG
wait "$PID"
