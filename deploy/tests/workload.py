"""Appends under load and the check of what the cluster kept.

Writers append one record per request (or a batch), each with a value never
sent before, through the HTTP API, moving to the next node when one does not
answer. Only a 2xx is an acknowledgement; its offsets are recorded. Anything
else (a 504 outcome_unknown, a timeout, a dropped connection) may or may not
have appended, so such a value may appear once in the log, or not at all.
Values are their id (`w0-17`), or with `value_bytes` the id, `|` and that
many bytes of padding (to fill disks); the check compares ids.

The check, once the writers are paused: every node ends at the same offset
with the same records, every acknowledged value is at its acknowledged
offset, no value appears twice, and every value in the log was sent.
"""

import collections
import os
import threading
import time
import urllib.parse

from cluster import wait_until

# Each append request's deadline, as `make failover`'s client has it. The
# server answers 504 itself after 10 s, but an append forwarded to a leader
# that was just cut off hangs that long, and the failover time measured is
# then this timeout; a short one measures the cluster instead.
APPEND_TIMEOUT_S = 0.5
READ_PAGE_RECORDS = 1000


class Load:
    def __init__(self, cluster, topic, writers, records_per_append=1, value_bytes=0,
                 timeout_s=APPEND_TIMEOUT_S, interval_s=0.0):
        self.cluster = cluster
        self.topic = topic
        self.records_per_append = records_per_append
        self.value_bytes = value_bytes
        self.timeout_s = timeout_s
        # Each writer starts an append at most this often (0: back to back).
        self.interval_s = interval_s
        self.path = f"/v1/topics/{urllib.parse.quote(topic)}/records"
        self.lock = threading.Condition()
        self.sent = set()
        self.acked = {}  # value -> offset
        # (sent at, acknowledged at, the answer's ordo-leader), monotonic seconds
        self.ack_times = []
        self.failures = 0
        # (node, status, error code) -> count of each answer that was not 2xx
        self.refusals = collections.Counter()
        self.in_flight = 0
        self.paused = False
        self.stopped = False
        self.threads = [threading.Thread(target=self._write, args=(w,), daemon=True,
                                         name=f"writer-{w}") for w in range(writers)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        with self.lock:
            self.stopped = True
            self.lock.notify_all()
        for t in self.threads:
            if t.ident is not None:  # started
                t.join(timeout=self.timeout_s + 2)

    def pause(self, timeout_s=None):
        """Stops new appends and waits for those in flight to end."""
        with self.lock:
            self.paused = True
            if not self.lock.wait_for(lambda: self.in_flight == 0,
                                      timeout_s or self.timeout_s + 5):
                raise TimeoutError("appends still in flight after the pause")

    def resume(self):
        with self.lock:
            self.paused = False
            self.lock.notify_all()

    @staticmethod
    def ident(value):
        """A value's id: what the check compares."""
        return value.split("|", 1)[0] if isinstance(value, str) else value

    def _write(self, writer):
        nodes = self.cluster.nodes
        node = nodes[writer % len(nodes)]
        seq = 0
        # Random, so that nothing on the way could compress it away.
        padding = "|" + os.urandom(self.value_bytes // 2).hex() if self.value_bytes else ""
        while True:
            with self.lock:
                self.lock.wait_for(lambda: self.stopped or not self.paused)
                if self.stopped:
                    return
                self.in_flight += 1
            if self.records_per_append == 1:
                ids = [f"w{writer}-{seq}"]
            else:
                ids = [f"w{writer}-{seq}.{i}" for i in range(self.records_per_append)]
            seq += 1
            sent_at = time.monotonic()
            next_at = sent_at + self.interval_s
            try:
                with self.lock:
                    self.sent.update(ids)
                answer = self.cluster.request(node, "POST", self.path,
                                              {"records": [{"value": i + padding} for i in ids]},
                                              timeout_s=self.timeout_s)
                code = answer.status
            except OSError:
                answer, code = None, None
            now = time.monotonic()
            with self.lock:
                self.in_flight -= 1
                if code is not None and 200 <= code < 300:
                    self.acked.update(zip(ids, answer.body["offsets"]))
                    self.ack_times.append((sent_at, now, answer.leader))
                else:
                    self.failures += 1
                    if code is not None:
                        body = answer.body if isinstance(answer.body, dict) else {}
                        error = body.get("error") or {}
                        self.refusals[(node, code, error.get("code"))] += 1
                self.lock.notify_all()
            if code is None or code >= 500:
                # No answer, or no leader yet: try the next node, after a
                # breath so a dead node's refusals do not spin.
                node = nodes[(nodes.index(node) + 1) % len(nodes)]
                time.sleep(0.05)
            wait = next_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    def first_ack_after(self, t0, old_leader, timeout_s=30):
        """Seconds from t0 until the first acknowledgement of an append sent
        at or after t0 under another leader than old_leader: the failover
        time as a client sees it. (Appends the old leader took in the last
        moments before the fault hit it do not count.)"""
        def first():
            with self.lock:
                times = [acked for sent, acked, leader in self.ack_times
                         if sent >= t0 and leader != old_leader]
            return min(times) - t0 if times else None
        return wait_until("an acknowledged append after the fault", first, timeout_s, 0.02)

    def acks_since(self, t0):
        with self.lock:
            return sum(1 for sent, _, _ in self.ack_times if sent >= t0)


def read_all(cluster, node, topic, timeout_s=30, ident=lambda value: value):
    """The node's records of the topic from offset 0, read from its own
    applied state (consistency=local), as a list of (offset, ident(value))."""
    path = f"/v1/topics/{urllib.parse.quote(topic)}/records"
    records, offset = [], 0
    deadline = time.monotonic() + timeout_s
    while True:
        code, body, _ = cluster.request(node, "GET",
                                        f"{path}?from={offset}&limit={READ_PAGE_RECORDS}&consistency=local",
                                        timeout_s=5.0)
        if code != 200:
            raise AssertionError(f"node {node}: read from {offset} answered {code} {body}")
        records.extend((r["offset"], ident(r["value"])) for r in body["records"])
        offset = body["next_offset"]
        if offset >= body["end_offset"]:
            return records
        if time.monotonic() > deadline:
            raise TimeoutError(f"node {node}: reading {topic} took over {timeout_s} s")


def end_offsets(cluster, topic):
    """Each answering node's applied end offset of the topic (local read)."""
    path = f"/v1/topics/{urllib.parse.quote(topic)}/records?from=0&limit=1&consistency=local"
    ends = {}
    for n in cluster.nodes:
        try:
            code, body, _ = cluster.request(n, "GET", path, timeout_s=2.0)
        except OSError:
            continue
        if code == 200:
            ends[n] = body["end_offset"]
    return ends


def check_converged(cluster, load, timeout_s=60):
    """With the writers paused: waits until every node has applied the same
    end offset as the leader, then checks every node's records against the
    acknowledgements. Returns (records, acknowledged appends, appends that
    landed without an acknowledgement)."""
    def leader_end():
        # A linearizable read through the leader: its end offset covers
        # every acknowledged append. (None while the leader changes.)
        leader = cluster.leader()
        if leader is None:
            return None
        try:
            code, body, _ = cluster.request(leader, "GET",
                                            f"{load.path}?from=0&limit=1", timeout_s=5.0)
        except OSError:
            return None
        return (leader, body["end_offset"]) if code == 200 else None
    leader, end = wait_until("a linearizable read through the leader", leader_end, timeout_s)

    ends = {}

    def all_at_end():
        ends.clear()
        ends.update(end_offsets(cluster, load.topic))
        return len(ends) == len(cluster.nodes) and set(ends.values()) == {end}
    try:
        wait_until(f"every node at end offset {end}", all_at_end, timeout_s)
    except TimeoutError as e:
        raise TimeoutError(f"{e}; last seen (node: end offset) {ends}") from None

    logs = {n: read_all(cluster, n, load.topic, ident=load.ident) for n in cluster.nodes}
    reference = logs[leader]
    for n, log in logs.items():
        if log != reference:
            diff = next((i for i, (a, b) in enumerate(zip(log, reference)) if a != b),
                        min(len(log), len(reference)))
            raise AssertionError(f"node {n} differs from leader {leader} at position {diff}: "
                                 f"{log[diff:diff + 3]} vs {reference[diff:diff + 3]}")
    offsets = [o for o, _ in reference]
    if offsets != list(range(len(reference))):
        raise AssertionError("offsets are not 0, 1, 2, ... without gaps")
    at = {}
    for offset, value in reference:
        if value in at:
            raise AssertionError(f"value {value!r} appears twice, at {at[value]} and {offset}")
        at[value] = offset
    with load.lock:
        acked = dict(load.acked)
        sent = set(load.sent)
    for value, offset in acked.items():
        if at.get(value) != offset:
            raise AssertionError(f"acknowledged {value!r} at offset {offset} is "
                                 f"{'at ' + str(at[value]) if value in at else 'missing'}")
    strangers = [v for v in at if v not in sent]
    if strangers:
        raise AssertionError(f"{len(strangers)} values nobody sent, e.g. {strangers[:3]}")
    return len(reference), len(acked), len(at) - len(acked)
