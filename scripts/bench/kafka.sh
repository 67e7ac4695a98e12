#!/usr/bin/env bash
# Kafka producers against ordo's HTTP API: on one local release cluster
# whose nodes also listen for Kafka clients (on free ports), ROUNDS rounds
# of SECS seconds each, alternating
#   http    `ordo bench`: 16 clients, one 100-byte append in flight each;
#   kafka   one confluent-kafka producer (kafka_producer.py), acks=all,
#           idempotent, default batching (linger.ms 5), 100-byte values, at
#           most OUTSTANDING records awaiting their delivery reports;
#   kafka1  (unless SINGLE=0) 16 such producers with linger.ms 0,
#           max.in.flight 1 and one record outstanding each: one record
#           per request, `ordo bench`'s shape over Kafka;
# and the medians as a Markdown table. Then what looked wrong: the
# producers' stderr (librdkafka errors) and the nodes' WARN/ERROR lines.
# Shared, noisy machines: compare within one run.
#
#   make bench-kafka          # ROUNDS=3 SECS=10 OUTSTANDING=10000 (~3 min)
#   ORDO_BIN=path/to/ordo scripts/bench/kafka.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
OUTSTANDING=${OUTSTANDING:-10000}
SINGLE=${SINGLE:-1}
PORT=${PORT:-18001}
KAFKA_PORT=${KAFKA_PORT:-19092}
source scripts/bench/cluster.sh

python3 -c 'import confluent_kafka' 2>/dev/null \
  || { echo "kafka.sh needs confluent-kafka: pip install confluent-kafka" >&2; exit 1; }
port=$(free_ports 3 "$PORT")
kafka_port=$(free_ports 3 "$KAFKA_PORT")
cluster_start "$work/cluster" "$port" --kafka-base-port "$kafka_port"
addrs=$(cluster_addrs http "$port")
bootstrap="127.0.0.1:$kafka_port,127.0.0.1:$((kafka_port + 1)),127.0.0.1:$((kafka_port + 2))"
echo "cluster: $addrs; kafka: $bootstrap"

loads=(http kafka)
[[ $SINGLE == 1 ]] && loads+=(kafka1)
results="$work/results.jsonl"
for round in $(seq "$ROUNDS"); do
  for load in "${loads[@]}"; do
    log="$work/$load-$round.log"
    case $load in
      http) cmd=("$ORDO" bench --addr "$addrs" --concurrency 16 --record-bytes 100 --seconds "$SECS" --json) ;;
      kafka) cmd=(python3 scripts/bench/kafka_producer.py --bootstrap "$bootstrap" --topic bench-kafka
        --seconds "$SECS" --record-bytes 100 --outstanding "$OUTSTANDING") ;;
      kafka1) cmd=(python3 scripts/bench/kafka_producer.py --bootstrap "$bootstrap" --topic bench-kafka1
        --seconds "$SECS" --record-bytes 100 --producers 16 --outstanding 1 --linger-ms 0 --max-in-flight 1) ;;
    esac
    result=$("${cmd[@]}" 2>"$log") || { echo "$load round $round failed:" >&2; cat "$log" >&2; exit 1; }
    echo "$load round $round: $result"
    echo "{\"variant\":\"$load\",\"result\":$result}" >>"$results"
  done
done

python3 - "$results" "$OUTSTANDING" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
outstanding = sys.argv[2]
names = {
    "http": "HTTP: `ordo bench`, 16 clients, 1 append of 1 record in flight each",
    "kafka": f"Kafka: 1 producer, linger.ms 5, up to {outstanding} records outstanding",
    "kafka1": "Kafka: 16 producers, linger.ms 0, max.in.flight 1, 1 record outstanding each",
}
rounds = sum(1 for r in runs if r["variant"] == "http")
print(f"\nmedians of {rounds} rounds; 100-byte values; Kafka: acks=all, enable.idempotence=true\n")
print("| load | records/s | p50 ms | p99 ms | records/request | retries | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
for variant, name in names.items():
    mine = [r["result"] for r in runs if r["variant"] == variant]
    if not mine:
        continue
    median = lambda field: statistics.median(r[field] for r in mine)
    per_request = "1" if variant == "http" else f"{median('records_per_request'):.1f}"
    retries = "-" if variant == "http" else str(sum(r["retries"] for r in mine))
    print(f"| {name} | {median('records_per_s'):.0f} | {median('p50_ms'):.2f} | {median('p99_ms'):.2f} "
          f"| {per_request} | {retries} | {sum(r['errors'] for r in mine)} |")
print("\nretries and errors: totals over the rounds")
PY

echo
echo "the Kafka producers' stderr (first lines of each non-empty log):"
for log in "$work"/*-[0-9]*.log; do
  [[ $log == */http-* ]] && continue  # ordo bench's stderr is its progress lines
  [[ -s $log ]] && { echo "  $(basename "$log"): $(wc -l <"$log") lines"; head -3 "$log" | sed 's/^/    /'; }
done
# Every local node warns that it has neither TLS nor a cluster secret.
echo "nodes' WARN/ERROR lines (but the one about no TLS or cluster secret):"
for log in "$work"/cluster/n*.log; do
  grep -E '\b(WARN|ERROR)\b' "$log" | grep -v "neither TLS nor a cluster secret" >"$log.warnings" || true
  echo "  $(basename "$log"): $(wc -l <"$log.warnings")"
  head -3 "$log.warnings" | sed 's/^/    /'
done
