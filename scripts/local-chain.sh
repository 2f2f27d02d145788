# Sourced by run.sh (`make run`) and dispute-demo.sh (`make dispute-demo`): anvil's dev keys, the
# local chain and the service they start, stopped on exit. Expects ROOT, IMO, URL and
# IMO_CHAIN_RPC_URL to be set.

# anvil's dev keys 0, 1 and 2 (public knowledge: for the local chain only).
ANVIL_DEV_KEY="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_DEV_KEY_1="0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ANVIL_DEV_KEY_2="0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"

PID=""
ANVIL_PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -n "$ANVIL_PID" ]; then kill -TERM "$ANVIL_PID" 2>/dev/null || true; wait "$ANVIL_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wallet_key FILE PRIVATE_KEY: stores the key (mode 600) and prints its address.
wallet_key() { (umask 077; echo "$2" > "$1"); "$IMO" operator init --out "$1"; }

chain_id() {
  curl -fsS -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$IMO_CHAIN_RPC_URL" 2>/dev/null
}

# start_anvil LOG ARGS...: starts anvil with ARGS, its log in LOG, and waits until it answers.
start_anvil() {
  local log="$1"; shift
  "$ROOT/.tools/bin/anvil" "$@" > "$log" 2>&1 &
  ANVIL_PID=$!
  for _ in $(seq 1 100); do
    chain_id >/dev/null && return 0
    kill -0 "$ANVIL_PID" 2>/dev/null || { echo "error: anvil exited during start-up:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "error: anvil did not answer eth_chainId on $IMO_CHAIN_RPC_URL" >&2
  exit 1
}

# start_service [LOG]: starts `imo serve` (its log in LOG, else on this terminal) and waits until
# $URL/readyz answers.
start_service() {
  if [ -n "${1:-}" ]; then "$IMO" serve > "$1" 2>&1 & else "$IMO" serve & fi
  PID=$!
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null && return 0
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "error: the service exited during start-up${1:+:}" >&2
      if [ -n "${1:-}" ]; then cat "$1" >&2; fi
      exit 1
    fi
    sleep 0.5
  done
  echo "error: the service did not become ready on $URL" >&2
  exit 1
}
