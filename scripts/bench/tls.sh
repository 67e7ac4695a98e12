#!/usr/bin/env bash
# The cost of TLS: `ordo bench` (16 clients, one 100-byte append in flight
# each) against a plain and a TLS local cluster (`ordo local-cluster
# --tls`), alternating in the same run, ROUNDS rounds of SECS seconds; the
# medians of each and their ratio. Shared, noisy machines: compare the
# ratio, not the figures, and only within one run.
#
#   make bench-tls            # ROUNDS=5 SECS=10 (~3 min)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-10}
PORT=${PORT:-18001}
source scripts/bench/cluster.sh

results="$work/results.jsonl"
for round in $(seq "$ROUNDS"); do
  for mode in plain tls; do
    dir="$work/$mode-$round"
    flags=(); scheme=http; ca=()
    if [[ $mode == tls ]]; then flags=(--tls); scheme=https; ca=(--ca "$dir/certs/ca.crt"); fi
    cluster_start "$dir" "$PORT" "${flags[@]}"
    result=$("$ORDO" bench --addr "$(cluster_addrs "$scheme" "$PORT")" "${ca[@]}" --concurrency 16 \
      --seconds "$SECS" --json 2>/dev/null)
    echo "$mode round $round: $result"
    echo "{\"mode\":\"$mode\",\"result\":$result}" >>"$results"
    cluster_stop
    rm -rf "$dir"
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def median(mode, field):
    return statistics.median(r["result"][field] for r in runs if r["mode"] == mode)
plain, tls = median("plain", "ops_per_s"), median("tls", "ops_per_s")
print(f"appends/s, median of {len(runs) // 2}: plain {plain:.0f}, TLS {tls:.0f}: TLS/plain = {tls / plain:.2f}")
for field in ("p50_ms", "p99_ms"):
    print(f"{field}, median: plain {median('plain', field):.2f}, TLS {median('tls', field):.2f}")
PY
