#!/usr/bin/env python3
"""Cluster fault tests in containers (`make test-cluster`).

Brings up deploy/compose.yaml under a project name of its own, appends
under load from a few writers, and puts the cluster through, in turn:
  (a) the leader's container killed (docker kill), then started again;
  (b) a follower cut off (docker network disconnect), then reconnected;
  (c) the leader cut off from the majority, then reconnected;
  (d) a rolling restart of every node (SIGTERM, start, ready, next).
After each, with the writers paused, every node must hold the same records
to the same end offset, every acknowledged append must be at its offset,
and no value may appear twice. Prints the failover times of (a) and (c):
from just before docker's kill or disconnect to the first acknowledged
append sent after it and answered under a new leader (each answer's
ordo-leader header), as a client with a 0.5 s timeout sees it.

Every container, network and volume it made is removed at the end, also
on failure, Ctrl-C or SIGTERM.
"""

import argparse
import os
import signal
import statistics
import sys
import time

from cluster import ComposeCluster, wait_until
from workload import Load, check_converged

HERE = os.path.dirname(os.path.abspath(__file__))
# How long a fault is held after the cluster has recovered from it, so
# appends go on through the changed cluster before it heals.
HOLD_S = 3.0
# A snapshot every 500 Raft entries, the log purged behind it: a node cut
# off or down for HOLD_S of appends (hundreds a second) catches up by a
# snapshot install, not only by log replication.
NODE_ENV = {"ORDO_SNAPSHOT_EVERY_ENTRIES": "500"}


def step(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def converge(cluster, load, what):
    load.pause()
    try:
        records, acked, unacked = check_converged(cluster, load)
    finally:
        load.resume()
    step(f"  {what}: converged, {records} records on every node, all {acked} "
         f"acknowledged appends at their offsets ({unacked} unacknowledged ones landed)")


def leader_fault(cluster, load, name, fault, heal):
    """(a) and (c): fault(leader) hits the leader's container; the failover
    time runs from just before it to the first append acknowledged under a
    new leader. After HOLD_S more of appends, heal(leader) brings it back."""
    leader = cluster.wait_leader()
    step(f"{name}: leader {leader}")
    t0 = time.monotonic()
    fault(leader)
    failover = load.first_ack_after(t0, leader)
    new_leader = cluster.wait_leader(among=[n for n in cluster.nodes if n != leader])
    step(f"  first append acknowledged {failover * 1000:.0f} ms after; new leader {new_leader}")
    time.sleep(HOLD_S)
    heal(leader)
    cluster.wait_ready([leader])
    converge(cluster, load, f"node {leader} back")
    return failover


def disconnect_follower(cluster, load):
    leader = cluster.wait_leader()
    follower = next(n for n in cluster.nodes if n != leader)
    step(f"(b) disconnect follower {follower} (leader {leader})")
    t0 = time.monotonic()
    cluster.disconnect(follower)
    time.sleep(HOLD_S)
    wait_until("appends through the majority", lambda: load.acks_since(t0) > 0, 30)
    step(f"  {load.acks_since(t0)} appends acknowledged while it was cut off")
    cluster.connect(follower)
    cluster.wait_ready([follower])
    converge(cluster, load, f"follower {follower} cut off and reconnected")


def rolling_restart(cluster, load):
    step("(d) rolling restart: " + ", ".join(f"node {n}" for n in cluster.nodes))
    t0 = time.monotonic()
    for n in cluster.nodes:
        cluster.restart(n)
        cluster.wait_ready([n])
        step(f"  node {n} restarted and ready")
    with load.lock:
        acks = sorted(acked for _, acked, _ in load.ack_times if acked >= t0)
    gap = max((b - a for a, b in zip(acks, acks[1:])), default=0.0)
    step(f"  longest pause between acknowledged appends during the roll: {gap * 1000:.0f} ms")
    converge(cluster, load, "rolling restart")


def summary(name, seconds):
    if not seconds:
        return f"{name}: no runs"
    ms = [s * 1000 for s in seconds]
    return (f"{name}: median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms over "
            f"{len(ms)} runs ({', '.join(f'{m:.0f}' for m in ms)})")


def interrupt(signum, frame):
    """Ctrl-C, or SIGTERM (a CI timeout, say): stop and clean up."""
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compose-file",
                        help="default: deploy/compose.yaml, or compose-5.yaml with --nodes 5")
    parser.add_argument("--image", default=os.environ.get("ORDO_IMAGE", "ordo:dev"))
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3, help="runs of (a) and of (c) each")
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()

    # Also when started with SIGINT ignored (as a background job is).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    project = f"ordotest{os.getpid()}"
    compose_file = args.compose_file or os.path.join(
        HERE, "..", "compose.yaml" if args.nodes == 3 else f"compose-{args.nodes}.yaml")
    cluster = ComposeCluster(os.path.abspath(compose_file), project, args.nodes, args.image,
                             NODE_ENV)
    load = Load(cluster, "faults", args.writers)
    started = time.monotonic()
    failed = True
    try:
        step(f"compose project {project}: {args.nodes} nodes of {args.image} on "
             + ", ".join(cluster.addr(n) for n in cluster.nodes))
        cluster.up()
        wait_until("every container healthy (docker health check)",
                   lambda: all(cluster.health(n) == "healthy" for n in cluster.nodes), 90, 1)
        step(f"all healthy; leader {cluster.wait_leader()}; {args.writers} writers start")
        load.start()
        wait_until("first appends", lambda: load.acks_since(0) >= 50, 30)

        kills = [leader_fault(cluster, load, "(a) kill (docker kill), then start",
                              cluster.kill, cluster.start) for _ in range(args.reps)]
        disconnect_follower(cluster, load)
        cuts = [leader_fault(cluster, load, "(c) cut off from the majority, then reconnect",
                             cluster.disconnect, cluster.connect) for _ in range(args.reps)]
        rolling_restart(cluster, load)

        load.stop()
        print()
        print(f"PASS in {time.monotonic() - started:.0f} s: {len(load.acked)} acknowledged appends, "
              f"{load.failures} failed or unknown attempts")
        print("failover, fault to the first append sent after it and acknowledged under a new leader:")
        print("  " + summary("leader killed (a)", kills))
        print("  " + summary("leader cut off (c)", cuts))
        print("  " + summary("all", kills + cuts))
        failed = False
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    except Exception:
        try:
            print(cluster.logs(), file=sys.stderr)
        except Exception as e:  # the logs are a courtesy; the failure matters
            print(f"(no logs: {e})", file=sys.stderr)
        raise
    finally:
        # The clean-up runs to its end (each docker call is bounded).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            load.stop()
        finally:
            step(f"removing compose project {project}")
            cluster.down()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
