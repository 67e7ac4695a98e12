"""Schemathesis hooks for scripts/schemathesis.sh: keep generated requests
inside what one test node can answer quickly and safely, without narrowing
what the spec says is valid.

- Waits are capped (a read's and a claim's wait_ms, min_log_index,
  catch_up_timeout_ms): the spec's bounds are real (30 s, 5 s, 600 s), but a fuzzer that waits them out tests
  the clock, not the server.
- A node added to the cluster gets a loopback address nothing listens on,
  so Raft never tries to reach a generated host name.
"""

import schemathesis

MAX_WAIT_MS = 50
MAX_CATCH_UP_TIMEOUT_MS = 200
# A loopback port that refuses connections: the learner never catches up.
UNREACHABLE_ADDR = "127.0.0.1:9"


def _as_int(value):
    """A generated integer, also as the string a query carries; else None."""
    if type(value) is int:
        return value
    # isdigit() alone takes '²' and other Unicode digits int() refuses.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _is(case, method, path):
    op = case.operation
    return op.method.upper() == method and op.path == path


# `map_case`, not `map_query` / `map_body`: Schemathesis applies only case
# hooks in its coverage phase, and these caps must hold in every phase.
@schemathesis.hook
def map_case(ctx, case):
    if _is(case, "GET", "/v1/topics/{topic}/records") and isinstance(case.query, dict):
        _cap_read(case.query)
    if _is(case, "POST", "/v1/cluster/nodes") and isinstance(case.body, dict):
        _cap_add(case.body)
    if _is(case, "POST", "/v1/queues/{group}/{topic}/claim") and isinstance(case.body, dict):
        _cap_claim(case.body)
    return case


def _cap_claim(body):
    wait = _as_int(body.get("wait_ms"))
    if wait is not None and wait <= 30_000:
        body["wait_ms"] = min(wait, MAX_WAIT_MS)


def _cap_read(query):
    wait = _as_int(query.get("wait_ms"))
    if wait is not None and wait <= 30_000:
        query["wait_ms"] = min(wait, MAX_WAIT_MS)
    # An index this node has not applied waits 5 s, then answers 503 (as
    # documented: the node lags). Any index it has applied takes the same
    # path without the wait. Past u64 it stays: that is a 400.
    index = _as_int(query.get("min_log_index"))
    if index is not None and index < 2**64:
        query["min_log_index"] = min(index, 1)


def _cap_add(body):
    if isinstance(body.get("addr"), str):
        body["addr"] = UNREACHABLE_ADDR
    timeout = body.get("catch_up_timeout_ms")
    if timeout is None:
        # Absent or null is the default, 60 s.
        body["catch_up_timeout_ms"] = MAX_CATCH_UP_TIMEOUT_MS
    elif _as_int(timeout) is not None and _as_int(timeout) <= 600_000:
        body["catch_up_timeout_ms"] = min(_as_int(timeout), MAX_CATCH_UP_TIMEOUT_MS)
