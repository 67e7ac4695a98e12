"""The commands of common.py through kafka-python (pure Python)."""

import sys
import time

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError

import common


def produce(args):
    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        enable_idempotence=args.idempotent,
        acks="all",
        linger_ms=5,
        delivery_timeout_ms=common.DELIVERY_TIMEOUT_MS,
        request_timeout_ms=10000,
    )
    outcome = {"acked": 0, "failed": 0}

    def acked(seq):
        def callback(metadata):
            outcome["acked"] += 1
            common.emit("acked", seq=seq, offset=metadata.offset)

        return callback

    def failed(seq):
        def callback(error):
            outcome["failed"] += 1
            common.emit("failed", seq=seq, error=repr(error))

        return callback

    for seq in range(args.count):
        future = producer.send(args.topic, common.seq_value(seq))
        future.add_callback(acked(seq))
        future.add_errback(failed(seq))
        common.pace(seq + 1, args.pace_every, args.pace_ms / 1000)
    producer.flush(timeout=common.DELIVERY_TIMEOUT_MS / 1000 + 10)
    producer.close(timeout=5)
    common.emit("done", unflushed=0, **outcome)


def produce_hex(args):
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
    offsets = [
        producer.send(args.topic, bytes.fromhex(value)).get(timeout=30).offset
        for value in args.values
    ]
    producer.close(timeout=5)
    for offset in offsets:
        common.emit("acked", seq=None, offset=offset)


def consumer(args, **extra):
    config = dict(
        bootstrap_servers=args.bootstrap,
        group_id=getattr(args, "group", None),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=common.SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=common.HEARTBEAT_INTERVAL_MS,
    )
    config.update(extra)
    return KafkaConsumer(**config)


def consume(args):
    reader = consumer(args)
    partition = TopicPartition(args.topic, 0)
    reader.assign([partition])
    reader.seek_to_beginning(partition)
    deadline = time.monotonic() + args.timeout_s
    seen = 0
    while seen < args.count:
        if time.monotonic() > deadline:
            sys.exit(f"only {seen} of {args.count} records within {args.timeout_s} s")
        for records in reader.poll(timeout_ms=500).values():
            for record in records:
                if seen < args.count:
                    common.record_event(record.offset, record.key, record.value, record.headers, record.timestamp)
                    seen += 1
    reader.close()


class Reporter(ConsumerRebalanceListener):
    def on_partitions_assigned(self, assigned):
        common.emit("assigned", partitions=[p.partition for p in assigned])

    def on_partitions_revoked(self, revoked):
        common.emit("revoked", partitions=[p.partition for p in revoked])


def group_consume(args):
    member = consumer(args, max_poll_records=100)
    member.subscribe([args.topic], listener=Reporter())
    deadline = time.monotonic() + args.max_s
    while time.monotonic() < deadline:
        for partition, records in member.poll(timeout_ms=500).items():
            for record in records:
                common.emit("record", offset=record.offset)
                time.sleep(args.delay_ms / 1000)
            position = records[-1].offset + 1
            try:
                member.commit({partition: OffsetAndMetadata(position, "", -1)})
            except KafkaError as error:
                # A rebalance under way: the records come again to whoever
                # holds the partition next.
                print(f"group-consume: commit: {error!r}", file=sys.stderr)
                continue
            common.emit("committed", offset=position)
    member.close()


def offsets_for_times(args):
    reader = consumer(args)
    partition = TopicPartition(args.topic, 0)
    found = reader.offsets_for_times({partition: args.timestamp_ms})[partition]
    common.emit("offset", offset=None if found is None else found.offset)
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
