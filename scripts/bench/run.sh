#!/usr/bin/env bash
# `make bench`: ordo against etcd and NATS JetStream (sync=always) in one run,
# with the peers' own scripts (../shared/peers, read its README): machine
# limits, then RUNS interleaved rounds of etcd, NATS and ordo under the same
# gobench load (100-byte appends, closed loop, clients on the leader, 1/16/64
# clients), then ordo with 100-record batches; writes docs/benchmarks.md with
# the medians and the ratios. About 25 minutes on 2 cores.
#   env: RUNS (3) SECS (10) PEERS (../shared/peers) SKIP_INSTALL=1
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/peers}"
RUNS="${RUNS:-3}"; SECS="${SECS:-10}"
RES="/tmp/peers/results/ordo-bench.$(date +%Y%m%d-%H%M%S)"
CLUSTER="$ROOT/scripts/bench/ordo_cluster.sh"
mkdir -p "$RES"

if [ "${SKIP_INSTALL:-0}" != 1 ] && { ! command -v etcd >/dev/null || [ ! -x /tmp/peers/bin/gobench ]; }; then
  "$PEERS/install.sh"
fi
(cd "$ROOT" && cargo build --release --bin ordo)

RES="$RES" RUNS="$RUNS" SECS="$SECS" \
ORDO_URL="http://127.0.0.1:7101/v1/topics/bench/records" \
ORDO_START="$CLUSTER start" ORDO_STOP="$CLUSTER stop" ORDO_PIDS="$CLUSTER pids" \
  "$PEERS/run_all.sh"

# Client batches of 100 records (ordo bench, on the leader), RUNS rounds.
for r in $(seq 1 "$RUNS"); do
  "$CLUSTER" start >>"$RES/log.txt" 2>&1
  "$ROOT/target/release/ordo" bench --addr 127.0.0.1:7101 -c 16 --batch 100 \
    --seconds "$SECS" --json 2>/dev/null >>"$RES/ordo_batch100.jsonl"
  "$CLUSTER" stop >>"$RES/log.txt" 2>&1
done

python3 "$ROOT/scripts/bench/report.py" "$RES" \
  "RUNS=$RUNS SECS=$SECS make bench" >"$ROOT/docs/benchmarks.md"
echo "wrote docs/benchmarks.md from $RES"
