"""What the Kafka client scripts share: their command line and the JSON
lines they print, one event a line on stdout, which the Rust tests in
tests/cluster/kafka_*.rs read. Each client script (confluent_client.py,
kafka_python_client.py) implements the same commands with its own client,
so a test runs the same steps through either.

Events: {"event": "acked", "seq", "offset"}, {"event": "failed", "seq",
"error"}, {"event": "done", ...}, {"event": "record", "offset", "key_b64",
"value_b64", "headers": [[name, value_b64]], "timestamp_ms"},
{"event": "assigned", "partitions"}, {"event": "revoked"},
{"event": "committed", "offset"}, {"event": "offset", "offset"}.
Errors go to stderr; a failed command exits 1.
"""

import argparse
import base64
import json
import sys
import time

# Consumers in a group notice a dead member within this (ms): short, so the
# takeover test is quick; Kafka's own minimum is 6 s.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500
# An acknowledgment that takes longer than this is a failure (ms).
DELIVERY_TIMEOUT_MS = 60000


def emit(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def b64(data):
    return None if data is None else base64.b64encode(data).decode()


def record_event(offset, key, value, headers, timestamp_ms):
    emit(
        "record",
        offset=offset,
        key_b64=b64(key),
        value_b64=b64(value),
        headers=[[name, b64(v)] for name, v in (headers or [])],
        timestamp_ms=timestamp_ms,
    )


def seq_value(seq):
    """The value of idempotent record `seq`: JSON, so it reads as an object
    over HTTP."""
    return json.dumps({"seq": seq}, separators=(",", ":")).encode()


def pace(sent, every, pause_s):
    """Sleeps `pause_s` after each `every` records, so a long run is still
    producing when the test kills the leader."""
    if sent % every == 0:
        time.sleep(pause_s)


def parser():
    top = argparse.ArgumentParser()
    commands = top.add_subparsers(dest="command", required=True)

    produce = commands.add_parser("produce", help="records {\"seq\": i}, i in 0..count")
    produce.add_argument("--bootstrap", required=True)
    produce.add_argument("--topic", required=True)
    produce.add_argument("--count", type=int, required=True)
    produce.add_argument("--idempotent", action="store_true")
    produce.add_argument("--pace-every", type=int, default=200)
    produce.add_argument("--pace-ms", type=int, default=20)

    values = commands.add_parser("produce-hex", help="one record per hex value, in order")
    values.add_argument("--bootstrap", required=True)
    values.add_argument("--topic", required=True)
    values.add_argument("values", nargs="+")

    consume = commands.add_parser("consume", help="count records from offset 0, no group")
    consume.add_argument("--bootstrap", required=True)
    consume.add_argument("--topic", required=True)
    consume.add_argument("--count", type=int, required=True)
    consume.add_argument("--timeout-s", type=float, default=60)

    group = commands.add_parser("group-consume", help="consume as a group member, committing")
    group.add_argument("--bootstrap", required=True)
    group.add_argument("--topic", required=True)
    group.add_argument("--group", required=True)
    group.add_argument("--delay-ms", type=float, default=0)
    group.add_argument("--max-s", type=float, default=120)

    times = commands.add_parser("offsets-for-times", help="the first offset at/after a time")
    times.add_argument("--bootstrap", required=True)
    times.add_argument("--topic", required=True)
    times.add_argument("--timestamp-ms", type=int, required=True)
    return top
