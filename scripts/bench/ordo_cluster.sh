#!/usr/bin/env bash
# A release `ordo local-cluster` for the peers' run_all.sh hooks: start (and
# wait until node 1 leads, so the load generator's clients are on the leader,
# as they are for etcd and NATS), pids (the three `ordo serve` processes,
# comma-separated), stop (and delete its data). Ports 7101-7103; ORDO_BIN
# overrides the binary (for A/B runs of two builds).
#   usage: ordo_cluster.sh start|pids|stop
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ORDO="${ORDO_BIN:-$ROOT/target/release/ordo}"
DIR="${ORDO_BENCH_DIR:-/tmp/ordo-bench}"
BASE_PORT=7101

leader_is_node_1() {
  curl -sf "http://127.0.0.1:$BASE_PORT/v1/cluster" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["leader"]==1 else 1)'
}

stop() {
  if [ -f "$DIR/local-cluster.pid" ]; then
    pid="$(cat "$DIR/local-cluster.pid")"
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}

start() {
  for attempt in 1 2 3 4 5; do
    stop
    mkdir -p "$DIR"
    "$ORDO" local-cluster --nodes 3 --base-port "$BASE_PORT" --data-dir "$DIR/data" \
      >"$DIR/local-cluster.log" 2>&1 &
    echo $! >"$DIR/local-cluster.pid"
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$BASE_PORT/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    if leader_is_node_1; then
      echo "ordo cluster up, node 1 leads (attempt $attempt)"
      return 0
    fi
  done
  echo "node 1 never led after 5 starts" >&2
  return 1
}

pids() {
  cat "$DIR"/data/n*.pid | paste -sd, -
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  pids) pids ;;
  *) echo "usage: $0 start|pids|stop" >&2; exit 2 ;;
esac
