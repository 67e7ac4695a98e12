"""The commands of common.py through confluent-kafka (librdkafka)."""

import sys
import time

from confluent_kafka import Consumer, KafkaException, OFFSET_BEGINNING, Producer, TopicPartition

import common


def produce(args):
    config = {
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": args.idempotent,
        "acks": "all",
        "message.timeout.ms": common.DELIVERY_TIMEOUT_MS,
        "linger.ms": 5,
    }
    producer = Producer(config)
    outcome = {"acked": 0, "failed": 0}

    def report(seq):
        def delivered(error, message):
            if error is None:
                outcome["acked"] += 1
                common.emit("acked", seq=seq, offset=message.offset())
            else:
                outcome["failed"] += 1
                common.emit("failed", seq=seq, error=str(error))

        return delivered

    for seq in range(args.count):
        while True:
            try:
                producer.produce(args.topic, common.seq_value(seq), on_delivery=report(seq))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        common.pace(seq + 1, args.pace_every, args.pace_ms / 1000)
    left = producer.flush(common.DELIVERY_TIMEOUT_MS / 1000 + 10)
    common.emit("done", unflushed=left, **outcome)


def produce_hex(args):
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all"})
    offsets = []

    def delivered(error, message):
        if error is not None:
            raise KafkaException(error)
        offsets.append(message.offset())

    for value in args.values:
        producer.produce(args.topic, bytes.fromhex(value), on_delivery=delivered)
        producer.flush(30)
    if len(offsets) != len(args.values):
        sys.exit(f"{len(offsets)} of {len(args.values)} values acknowledged")
    for offset in offsets:
        common.emit("acked", seq=None, offset=offset)


def consumer(args, **extra):
    config = {
        "bootstrap.servers": args.bootstrap,
        "group.id": getattr(args, "group", None) or "unused-no-commits",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": common.SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": common.HEARTBEAT_INTERVAL_MS,
    }
    config.update(extra)
    return Consumer(config)


def emit_record(message):
    _, timestamp = message.timestamp()
    common.record_event(message.offset(), message.key(), message.value(), message.headers(), timestamp)


def consume(args):
    reader = consumer(args)
    reader.assign([TopicPartition(args.topic, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + args.timeout_s
    seen = 0
    while seen < args.count:
        if time.monotonic() > deadline:
            sys.exit(f"only {seen} of {args.count} records within {args.timeout_s} s")
        message = reader.poll(0.5)
        if message is None:
            continue
        if message.error():
            sys.exit(f"consume: {message.error()}")
        emit_record(message)
        seen += 1
    reader.close()


def group_consume(args):
    member = consumer(args)
    member.subscribe(
        [args.topic],
        on_assign=lambda _, parts: common.emit("assigned", partitions=[p.partition for p in parts]),
        on_revoke=lambda _, parts: common.emit("revoked", partitions=[p.partition for p in parts]),
    )
    deadline = time.monotonic() + args.max_s
    while time.monotonic() < deadline:
        messages = member.consume(num_messages=100, timeout=0.5)
        last = None
        for message in messages:
            if message.error():
                print(f"group-consume: {message.error()}", file=sys.stderr)
                continue
            common.emit("record", offset=message.offset())
            last = message
            time.sleep(args.delay_ms / 1000)
        if last is not None:
            position = TopicPartition(last.topic(), last.partition(), last.offset() + 1)
            try:
                member.commit(asynchronous=False, offsets=[position])
            except KafkaException as error:
                # A rebalance under way: the records come again to whoever
                # holds the partition next.
                print(f"group-consume: commit: {error}", file=sys.stderr)
                continue
            common.emit("committed", offset=position.offset)
    member.close()


def offsets_for_times(args):
    reader = consumer(args)
    found = reader.offsets_for_times([TopicPartition(args.topic, 0, args.timestamp_ms)], timeout=30)
    common.emit("offset", offset=found[0].offset)
    reader.close()


COMMANDS = {
    "produce": produce,
    "produce-hex": produce_hex,
    "consume": consume,
    "group-consume": group_consume,
    "offsets-for-times": offsets_for_times,
}

if __name__ == "__main__":
    parsed = common.parser().parse_args()
    COMMANDS[parsed.command](parsed)
