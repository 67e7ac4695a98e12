#!/usr/bin/env bash
# Property-based API testing: one `ordo serve` node on a free loopback port,
# over TLS (certificates from `ordo certs`) and with an API token, as a
# production node runs; then Schemathesis generates requests, each with the
# token, from the node's own /openapi.json and
# checks every answer: no 5xx, a documented status, the documented content
# type and a body that matches the schema. The node is stopped however the
# run ends, and must have survived it (no panic in its log).
#
#   scripts/schemathesis.sh            # up to EXAMPLES=400 per operation (~1-2 min)
#   EXAMPLES=200 SEED=1 scripts/schemathesis.sh
#
# Needs `schemathesis` (pip install schemathesis). Uses ORDO_BIN if set,
# else builds the debug binary (debug keeps overflow checks on).
set -euo pipefail
cd "$(dirname "$0")/.."
here=scripts/schemathesis

EXAMPLES=${EXAMPLES:-400}
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "schemathesis is not installed: pip install schemathesis" >&2
  exit 1
fi

if [[ -z "${ORDO_BIN:-}" ]]; then
  cargo build -q --bin ordo
  ORDO_BIN="${CARGO_TARGET_DIR:-target}/debug/ordo"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"
base="https://$addr"
work=$(mktemp -d "${TMPDIR:-/tmp}/ordo-schemathesis.XXXXXX")
log="$work/node.log"
pid=""

stop_node() {
  local status=$?
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -f "$log" ]]; then
    echo "--- last lines of the node's log ($log) ---" >&2
    tail -n 30 "$log" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap stop_node EXIT
trap 'exit 130' INT TERM

# Errors only: the learners that added nodes leave (unreachable, on
# purpose) would fill the log with warnings. A panic prints regardless.
certs="$work/certs"
"$ORDO_BIN" certs create-ca --dir "$certs" >/dev/null
"$ORDO_BIN" certs create-node --dir "$certs" --id 1 --host 127.0.0.1 >/dev/null
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
# The token reaches the node and schemathesis by environment and header,
# never as a command-line argument of a long-lived process.
export ORDO_API_TOKEN="$token"
RUST_LOG=${RUST_LOG:-error} "$ORDO_BIN" serve --node-id 1 --listen "$addr" \
  --data-dir "$work/n1" --peers "1=$addr" \
  --tls-cert "$certs/node-1.crt" --tls-key "$certs/node-1.key" --tls-ca "$certs/ca.crt" \
  >"$log" 2>&1 &
pid=$!
unset ORDO_API_TOKEN
auth_header="$work/auth-header"
(umask 077 && printf 'Authorization: Bearer %s' "$token" >"$auth_header")
curl_tls() { curl -sf --cacert "$certs/ca.crt" -H "@$auth_header" "$@"; }

for _ in $(seq 300); do
  if curl_tls "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "the node exited before it was ready" >&2; exit 1; fi
  sleep 0.1
done
curl_tls "$base/readyz" >/dev/null || { echo "the node was not ready within 30 s" >&2; exit 1; }
# Over TLS, and closed without the token.
status=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$certs/ca.crt" "$base/v1/cluster")
[[ "$status" == 401 ]] || { echo "expected 401 without the token, got $status" >&2; exit 1; }

# Data for the names schemathesis.toml offers: a topic with records, a
# group's position in it and a work queue over it, and a compacted topic
# with superseded records.
api() {
  curl_tls -o /dev/null -X "$1" "$base$2" -H 'content-type: application/json' -d "$3" ||
    { echo "seeding failed: $1 $2" >&2; return 1; }
}
api PUT /v1/topics/profiles '{"cleanup":"compact"}'
for v in 1 2 3; do
  api POST /v1/topics/profiles/records "{\"records\":[{\"key\":\"jane\",\"value\":$v},{\"key\":\"joe\",\"value\":$v}]}"
  api POST /v1/topics/orders/records "{\"records\":[{\"key\":\"k$v\",\"value\":{\"qty\":$v}}]}"
done
api PUT /v1/consumers/billing/offsets/orders '{"offset":1}'
api PUT /v1/queues/billing/orders '{"lease_ms":1000,"max_deliveries":2}'

# The stream never ends by itself, so a client that reads a whole response
# would hang on it: tests/cluster/tailing.rs covers it instead.
args=(
  --no-color
  --config-file "$here/schemathesis.toml"
  run "$base/openapi.json"
  --tls-verify "$certs/ca.crt"
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
  --max-examples "$EXAMPLES"
  --exclude-path '/v1/topics/{topic}/stream'
  --request-timeout 20
  --generation-database none
)
if [[ -n "${SEED:-}" ]]; then args+=(--seed "$SEED"); fi
ORDO_SCHEMATHESIS_TOKEN="$token" SCHEMATHESIS_HOOKS="$here/hooks.py" schemathesis "${args[@]}"

if ! kill -0 "$pid" 2>/dev/null; then
  echo "the node died during the run" >&2
  exit 1
fi
if grep -n "panicked" "$log" >&2; then
  echo "the node panicked during the run (see above)" >&2
  exit 1
fi
echo "schemathesis: the node answered every request within its spec"
