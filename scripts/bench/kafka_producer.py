"""A Kafka producer load for scripts/bench/kafka.sh: confluent-kafka
(librdkafka) producers with acks=all and idempotence, producing
--record-bytes values to one topic as fast as delivery reports allow, for
--seconds after a --warmup-secs warm-up that is not counted (as `ordo
bench` counts). Prints one JSON object in `ordo bench --json`'s shape:
records delivered per second, delivery latency percentiles (produce() to
delivery report, librdkafka's Message.latency()), plus what librdkafka's
statistics say about the requests it sent (produce requests and records
per request, retries, request errors).

Each of --producers producers (one thread each) has at most --outstanding
records not yet reported delivered: librdkafka's own queue bound
(queue.buffering.max.messages), which makes produce() raise BufferError,
whereupon the thread waits for delivery reports. So the queue never grows
without end, and latency is not time spent behind an unbounded backlog.
--producers 16 --outstanding 1 --linger-ms 0 --max-in-flight 1 is `ordo
bench`'s shape: 16 clients with one record in flight each, one record per
request.
"""

import argparse
import json
import statistics
import sys
import threading
import time

from confluent_kafka import Producer

# Every loop ends by then, whatever the cluster does (s).
FLUSH_TIMEOUT_S = 30
STATS_INTERVAL_MS = 500


class Tally:
    """One producer's delivery reports and its latest librdkafka statistics,
    touched only by its own thread (callbacks run inside its poll())."""

    def __init__(self, measure_from, measure_to):
        self.measure_from = measure_from
        self.measure_to = measure_to
        self.latencies_ms = []
        self.errors = 0
        # Over the whole run, warm-up and final flush included, as
        # librdkafka's request counters are.
        self.delivered_total = 0
        self.first_error = None
        self.stats = None

    def delivered(self, error, message):
        now = time.monotonic()
        if error is not None:
            self.errors += 1
            self.first_error = self.first_error or str(error)
            return
        self.delivered_total += 1
        if self.measure_from <= now < self.measure_to:
            self.latencies_ms.append(message.latency() * 1000)

    def statistics(self, stats_json):
        self.stats = json.loads(stats_json)


def produce(args, tally, deadline):
    config = {
        "bootstrap.servers": args.bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": args.linger_ms,
        "queue.buffering.max.messages": args.outstanding,
        "statistics.interval.ms": STATS_INTERVAL_MS,
        "stats_cb": tally.statistics,
        "error_cb": lambda error: print(f"producer error: {error}", file=sys.stderr),
    }
    if args.max_in_flight is not None:
        config["max.in.flight.requests.per.connection"] = args.max_in_flight
    producer = Producer(config)
    value = b"x" * args.record_bytes
    while time.monotonic() < deadline:
        try:
            producer.produce(args.topic, value, on_delivery=tally.delivered)
        except BufferError:
            # --outstanding records await their reports: wait for one.
            producer.poll(0.1)
            continue
        producer.poll(0)
    left = producer.flush(FLUSH_TIMEOUT_S)
    if left:
        print(f"{left} records still undelivered after {FLUSH_TIMEOUT_S} s", file=sys.stderr)
    # One more statistics interval, so the counters include the end.
    stats_until = time.monotonic() + 2 * STATS_INTERVAL_MS / 1000
    while time.monotonic() < stats_until:
        producer.poll(0.1)


def broker_totals(stats):
    """Produce requests, retries and request errors over every broker."""
    totals = {"produce_requests": 0, "retries": 0, "request_errors": 0}
    for broker in (stats or {}).get("brokers", {}).values():
        totals["produce_requests"] += broker.get("req", {}).get("Produce", 0)
        totals["retries"] += broker.get("txretries", 0)
        totals["request_errors"] += broker.get("txerrs", 0) + broker.get("rxerrs", 0)
    return totals


def percentile(sorted_values, q):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", default="bench-kafka")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup-secs", type=float, default=1)
    parser.add_argument("--record-bytes", type=int, default=100)
    parser.add_argument("--producers", type=int, default=1)
    parser.add_argument("--outstanding", type=int, default=10000)
    parser.add_argument("--linger-ms", type=float, default=5)
    parser.add_argument("--max-in-flight", type=int)
    args = parser.parse_args()
    if args.producers < 1 or args.outstanding < 1 or args.seconds <= 0:
        parser.error("--producers, --outstanding and --seconds must be positive")

    start = time.monotonic()
    measure_from = start + args.warmup_secs
    deadline = measure_from + args.seconds
    tallies = [Tally(measure_from, deadline) for _ in range(args.producers)]
    threads = [threading.Thread(target=produce, args=(args, t, deadline)) for t in tallies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    latencies = sorted(ms for t in tallies for ms in t.latencies_ms)
    totals = {"produce_requests": 0, "retries": 0, "request_errors": 0}
    for tally in tallies:
        for name, count in broker_totals(tally.stats).items():
            totals[name] += count
    records = len(latencies)
    delivered_total = sum(t.delivered_total for t in tallies)
    errors = sum(t.errors for t in tallies)
    first_error = next((t.first_error for t in tallies if t.first_error), None)
    if first_error:
        print(f"{errors} records failed, the first: {first_error}", file=sys.stderr)
    print(
        json.dumps(
            {
                "load": "kafka",
                "producers": args.producers,
                "outstanding": args.outstanding,
                "linger_ms": args.linger_ms,
                "max_in_flight": args.max_in_flight,
                "record_bytes": args.record_bytes,
                "seconds": args.seconds,
                "records_per_s": records / args.seconds,
                "p50_ms": percentile(latencies, 0.50),
                "p90_ms": percentile(latencies, 0.90),
                "p99_ms": percentile(latencies, 0.99),
                "max_ms": latencies[-1] if latencies else 0.0,
                "mean_ms": statistics.fmean(latencies) if latencies else 0.0,
                "errors": errors,
                **totals,
                "records_per_request": delivered_total / max(totals["produce_requests"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
