#!/usr/bin/env bash
# `make dispute-demo`: the inference dispute game played end to end on a local chain
# (docs/PROTOCOL.md §9.7). anvil starts on a free port, the suite (with InferenceDispute and
# JudgeVM) is deployed, and imo-oracle serves the quantized MLP with the TEST-ONLY fraud
# `corrupt-output` (built with the `fault-injection` feature): every output's first byte is
# flipped before it is signed. A client records one call (`imo infer --record`), `imo verify`
# re-executes it with the reference interpreter, sees the wrong output and opens a game; the
# service's `disputes` job defends its lie move by move; the verifier's log names each of its
# moves with its gas, the service's transactions list names the operator's; the one-step shows
# the corrupted element, the operator's bond is slashed and the client refunded.
# Everything lives in data-demo/ (replaced on each run); Ctrl-C stops the service and anvil.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
IMO="${CARGO_TARGET_DIR:-$ROOT/target}/debug/imo"
D=data-demo
rm -rf "$D" && mkdir -p "$D"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ANVIL_PORT="$(free_port)"
export IMO_SERVER_BIND="127.0.0.1:$(free_port)"
export IMO_SERVER_GRPC_BIND="127.0.0.1:$(free_port)"
URL="http://$IMO_SERVER_BIND"
export IMO_DATABASE_URL="sqlite://$D/imo.db?mode=rwc"
export IMO_STORAGE_MODELS_DIR="$D/models"
export IMO_METERING_OPERATOR_KEY_FILE="$D/operator.key"
export IMO_CHAIN_RPC_URL="http://127.0.0.1:$ANVIL_PORT"
export IMO_CHAIN_CHAIN_ID=31337
export IMO_CHAIN_DEPLOYER_KEY_FILE="$D/deployer.key"
export IMO_CHAIN_ENABLED=true
export IMO_CHAIN_DISPUTE_CLOCK_SECS=3600
export IMO_CHAIN_DISPUTE_STAKE_WEI=200000000000000000
export IMO_CHAIN_DISPUTES_SCHEDULE="* * * * * *"
export IMO_CHAIN_INDEX_SCHEDULE="* * * * * *"
export IMO_CHAIN_FAULT_INJECTION=corrupt-output
export IMO_LOG_FILTER="${IMO_LOG_FILTER:-warn,imo_oracle::chain::disputes=info,imo_oracle::chain::txm=info}"
say() { printf '\033[1;32m[demo]\033[0m %s\n' "$*"; }
# anvil's dev keys 0 (deployer and publisher) and 1 (client); anvil and the service, stopped on exit.
# shellcheck source=scripts/local-chain.sh
. "$ROOT/scripts/local-chain.sh"

"$IMO" migrate >/dev/null
OPERATOR="$("$IMO" operator init --out "$IMO_METERING_OPERATOR_KEY_FILE")"
PUBLISHER="$(wallet_key "$D/publisher.wallet.key" "$ANVIL_DEV_KEY")"
CLIENT="$(wallet_key "$D/client.wallet.key" "$ANVIL_DEV_KEY_1")"
(umask 077; echo "$ANVIL_DEV_KEY" > "$IMO_CHAIN_DEPLOYER_KEY_FILE")
PUB_KEY="$("$IMO" keys create --address "$PUBLISHER" --role publisher --label demo --quiet)"
CLIENT_KEY="$("$IMO" keys create --address "$CLIENT" --role client --label demo --quiet)"
ADMIN_KEY="$("$IMO" keys create --address "$PUBLISHER" --role admin --label demo --quiet)"

say "a local chain on $IMO_CHAIN_RPC_URL (log in $D/anvil.log)"
start_anvil "$D/anvil.log" --host 127.0.0.1 --port "$ANVIL_PORT" --chain-id 31337
say "deploying the suite with the dispute game (clock ${IMO_CHAIN_DISPUTE_CLOCK_SECS} s per side)"
"$IMO" contracts deploy
say "starting imo-oracle with the TEST-ONLY fraud: every output's first byte is flipped before it is signed"
start_service "$D/service.log"
say "the publisher registers and tokenizes quant_mlp (a disputable int8 model, 14 nodes)"
IMO_URL="$URL" IMO_API_KEY="$PUB_KEY" "$IMO" models register .tools/models/quant_mlp.onnx --name quant-mlp --price-wei 1000000000000000 >/dev/null
IMO_URL="$URL" IMO_API_KEY="$PUB_KEY" "$IMO" models tokenize quant-mlp --token-name "Quant MLP" --symbol QMLP --supply-tokens 1000000 --holders-bps 8000 --wait
say "the client deposits 0.1 ETH and authorises spending"
CW=(env IMO_URL="$URL" IMO_API_KEY="$CLIENT_KEY" "$IMO" wallet --key-file "$D/client.wallet.key")
"${CW[@]}" deposit 100000000000000000
"${CW[@]}" authorize 100000000000000000
for _ in $(seq 1 60); do
  [ "$(curl -fsS -H "Authorization: Bearer $CLIENT_KEY" "$URL/v1/balance" | python3 -c 'import sys, json; print(json.load(sys.stdin)["available_wei"])')" != "0" ] && break
  sleep 0.5
done
for _ in $(seq 1 60); do
  IMO_URL="$URL" IMO_API_KEY="$ADMIN_KEY" "$IMO" transactions 2>/dev/null | grep -qE '^stake:[0-9]+ +final' && break
  sleep 0.5
done
say "the operator has staked 0.2 ETH in InferenceDispute (its disputes job): its receipts can be disputed"
say "one call, recorded for verification (imo infer --record $D/calls)"
python3 -c 'import json; print(json.dumps({"inputs":[{"name":"x","datatype":"FP32","shape":[1,16],"data":[round((i*37 % 29)/7 - 2, 3) for i in range(16)]}]}))' > "$D/request.json"
IMO_URL="$URL" IMO_API_KEY="$CLIENT_KEY" "$IMO" infer quant-mlp --body "$D/request.json" --record "$D/calls" > "$D/response.json"
say "imo verify re-executes it, finds the wrong output and plays the game (each move with its gas):"
T0=$(date +%s.%N)
IMO_URL="$URL" "$IMO" verify --record "$D/calls" --model quant-mlp=.tools/models/quant_mlp.onnx \
  --key-file "$D/client.wallet.key" --poll-ms 300 --game-secs 600
for _ in $(seq 1 20); do grep -q 'dispute: game over' "$D/service.log" && break; sleep 0.5; done
say "the game took $(python3 -c "print(round($(date +%s.%N) - $T0, 1))") s. The operator's side (its disputes job, through the transaction manager):"
IMO_URL="$URL" IMO_API_KEY="$ADMIN_KEY" "$IMO" transactions | grep -E 'dispute:|program:|stake:|KEY|key' || true
grep -E 'chain::disputes' "$D/service.log" | sed -E 's/^[^ ]+ +INFO pass: imo_oracle::chain::disputes: /  service: /' | tail -n 20
say "done: the operator ($OPERATOR) lost its bond; the client ($CLIENT) was refunded the call's price and won the bond."
