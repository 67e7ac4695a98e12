#!/usr/bin/env bash
# `make bench`: ordo's durable appends, against etcd and NATS JetStream
# (sync=always) in the same run when the peers' scripts are there; writes
# docs/benchmarks.md with the medians (and the ratios).
#
# With the peers (PEERS_DIR, by default ../shared/peers next to the repo;
# read its README): machine limits, then RUNS interleaved rounds of etcd,
# NATS and ordo under the same gobench load (100-byte appends, closed loop,
# clients on the leader, 1/16/64 clients), then ordo with 100-record
# batches. About 25 minutes on 2 cores.
#
# Without them: the same ordo measurements with `ordo bench` as the load
# generator (RUNS rounds, a fresh cluster each, 1/16/64 clients, then the
# 100-record batches), and a report that says the peers were not measured.
#
#   env: RUNS (3) SECS (10) CONC ("1 16 64") PEERS_DIR (../shared/peers; PEERS also works)
#        SKIP_INSTALL=1 (peers: skip their install.sh)
#        ORDO_BIN=path/to/ordo (skip cargo, use this binary)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-${PEERS:-$ROOT/../shared/peers}}"
RUNS="${RUNS:-3}"; SECS="${SECS:-10}"
CLUSTER="$ROOT/scripts/bench/ordo_cluster.sh"
# ordo_cluster.sh runs the same binary.
export ORDO_BIN="${ORDO_BIN:-$ROOT/target/release/ordo}"
ORDO_URL="http://127.0.0.1:7101/v1/topics/bench/records"
BENCH_ADDR=127.0.0.1:7101

if [ -x "$PEERS_DIR/run_all.sh" ]; then
  with_peers=1
  RES="/tmp/peers/results/ordo-bench.$(date +%Y%m%d-%H%M%S)"
else
  with_peers=0
  RES="${TMPDIR:-/tmp}/ordo-bench-results/ordo-bench.$(date +%Y%m%d-%H%M%S)"
  cat <<EOF
No peers at $PEERS_DIR: measuring ordo alone (etcd and NATS JetStream are not measured).
To compare, point PEERS_DIR at a directory with the peers' scripts:
  install.sh        installs etcd, NATS JetStream and the gobench load generator
  run_all.sh        machine limits, then RUNS rounds of etcd, NATS and ordo
                    (ordo through ORDO_URL, ORDO_START, ORDO_STOP, ORDO_PIDS)
  etcd_bench.sh, nats_bench.sh, http_bench.sh, machine_limits.sh (used by run_all.sh)
  e.g. PEERS_DIR=/path/to/peers make bench   (docs/development.md, "Peers")
EOF
fi
mkdir -p "$RES"

if [ "$with_peers" = 1 ] && [ "${SKIP_INSTALL:-0}" != 1 ] \
  && { ! command -v etcd >/dev/null || [ ! -x /tmp/peers/bin/gobench ]; }; then
  "$PEERS_DIR/install.sh"
fi
if [ "$ORDO_BIN" = "$ROOT/target/release/ordo" ]; then
  (cd "$ROOT" && cargo build --release --bin ordo)
fi

# The same share of the cores for every system's nodes: ordo's local
# cluster gives each node its share of worker threads (the cores over the
# nodes, at least one), so each etcd and NATS server gets it as GOMAXPROCS,
# through a wrapper the peers' scripts start instead of the binary (the
# load generator keeps every core). With its default, a Go scheduler
# thread per core in each of 3 servers, NATS ran 19-24 % slower here (etcd
# was not measured apart).
share_of_cores() {
  local real="$1" wrapper="$RES/bin/$(basename "$1")"
  mkdir -p "$RES/bin"
  printf '#!/bin/sh\nGOMAXPROCS=%s exec %s "$@"\n' "$NODE_CORES" "$real" >"$wrapper"
  chmod +x "$wrapper"
  echo "$wrapper"
}
NODE_CORES=$(( $(nproc) / 3 )); [ "$NODE_CORES" -ge 1 ] || NODE_CORES=1

if [ "$with_peers" = 1 ]; then
  real_nats="${NATS_BIN:-}"
  if [ -z "$real_nats" ]; then
    venv="${PEERS_VENV:-/tmp/peers/venv}"
    if [ -x "$venv/bin/nats-server" ]; then real_nats="$venv/bin/nats-server"; else real_nats=/usr/sbin/nats-server; fi
  fi
  ETCD_BIN="$(share_of_cores "$(command -v "${ETCD_BIN:-etcd}")")" \
  NATS_BIN="$(share_of_cores "$real_nats")" \
  RES="$RES" RUNS="$RUNS" SECS="$SECS" \
  ORDO_URL="$ORDO_URL" \
  ORDO_START="$CLUSTER start" ORDO_STOP="$CLUSTER stop" ORDO_PIDS="$CLUSTER pids" \
    "$PEERS_DIR/run_all.sh"
else
  # What run_all.sh does for ordo, with ordo's own load generator: a fresh
  # cluster per round, 1, 16 and 64 clients on the leader.
  for r in $(seq 1 "$RUNS"); do
    echo "=== round $r/$RUNS"
    "$CLUSTER" start >>"$RES/log.txt" 2>&1
    for c in ${CONC:-1 16 64}; do
      "$ORDO_BIN" bench --addr "$BENCH_ADDR" -c "$c" --seconds "$SECS" --json \
        2>>"$RES/log.txt" >>"$RES/ordo.jsonl"
    done
    "$CLUSTER" stop >>"$RES/log.txt" 2>&1
  done
fi

# Client batches of 100 records (ordo bench, on the leader), RUNS rounds.
for r in $(seq 1 "$RUNS"); do
  "$CLUSTER" start >>"$RES/log.txt" 2>&1
  "$ORDO_BIN" bench --addr "$BENCH_ADDR" -c 16 --batch 100 \
    --seconds "$SECS" --json 2>/dev/null >>"$RES/ordo_batch100.jsonl"
  "$CLUSTER" stop >>"$RES/log.txt" 2>&1
done

python3 "$ROOT/scripts/bench/report.py" "$RES" \
  "RUNS=$RUNS SECS=$SECS make bench" >"$ROOT/docs/benchmarks.md"
echo "wrote docs/benchmarks.md from $RES"
if [ "$with_peers" = 0 ]; then
  echo "ordo alone: set PEERS_DIR to measure etcd and NATS JetStream in the same run (docs/development.md)"
fi
