#!/usr/bin/env bash
# Work queues against appends: on one local release cluster, ROUNDS rounds
# of `ordo bench` (16 clients, one 100-byte append in flight each) and
# `ordo bench --queue` (16 workers claiming BATCH jobs at a time and acking
# them, over JOBS jobs appended first), SECS seconds each, alternating;
# the medians side by side. A job costs two commands in the log (its
# claim and its ack) where an append costs one.
#
#   make bench-queue          # ROUNDS=3 SECS=10 JOBS=50000 BATCH=1 (~2 min)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
JOBS=${JOBS:-50000}
BATCH=${BATCH:-1}
PORT=${PORT:-18001}
source scripts/bench/cluster.sh

cluster_start "$work/cluster" "$PORT"
addrs=$(cluster_addrs http "$PORT")

results="$work/results.jsonl"
for round in $(seq "$ROUNDS"); do
  append=$("$ORDO" bench --addr "$addrs" --concurrency 16 --seconds "$SECS" --json 2>/dev/null)
  echo "append round $round: $append"
  queue=$("$ORDO" bench --queue --addr "$addrs" --concurrency 16 --batch "$BATCH" --records "$JOBS" \
    --seconds "$SECS" --json 2>/dev/null)
  echo "queue round $round: $queue"
  echo "$append" >>"$results"
  echo "$queue" >>"$results"
done

python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def median(load, field):
    return statistics.median(r[field] for r in runs if r["load"] == load)
batch = next(r["batch"] for r in runs if r["load"] == "queue")
print(f"medians of {len(runs) // 2} rounds, 16 clients / workers:")
print(f"  appends: {median('append', 'records_per_s'):.0f} records/s, p50 {median('append', 'p50_ms'):.2f} ms, p99 {median('append', 'p99_ms'):.2f} ms")
print(f"  queue:   {median('queue', 'records_per_s'):.0f} jobs/s claimed and acked (claims of up to {batch}), "
      f"claim+ack p50 {median('queue', 'p50_ms'):.2f} ms, p99 {median('queue', 'p99_ms'):.2f} ms")
PY
