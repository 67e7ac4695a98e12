#!/usr/bin/env python3
"""A node's disk fills up under load, then gets more space (`make test-cluster`).

Brings up deploy/compose.yaml with deploy/compose-small-disk.yaml: node 3's
data dir is a 64 MiB tmpfs that this test mounts on the host (so it keeps
its content when the container exits or is recreated, as a disk does; a
Docker `tmpfs:` mount would not), with 4 MiB segments. Light writers append
single records through every node throughout; heavy writers (1 MiB
appends) fill node 3's disk, after its leadership, if it had any, was
handed to another node:

  1. with a 16 MiB free-space reserve (ORDO_MIN_FREE_BYTES) on node 3 and
     appends at 4 MiB/s: it goes below the reserve and refuses new entries
     (readyz 503 "disk space low", status `storage.below_reserve`,
     `ordo_disk_below_reserve 1`), while nodes 1 and 2 keep acknowledging
     appends. (If node 3 leads then, as an election under load may make
     it, or --small-disk-leads does: it must hand leadership to another
     node by itself, which this checks.) Then its
     tmpfs is grown in place (`mount -o remount,size=`, as a cloud volume
     and its file system are grown) and it must be ready and caught up
     within 60 s;
  2. node 3 recreated with the reserve off (ORDO_MIN_FREE_BYTES=0), appends
     at 16 MiB/s: its disk fills to ENOSPC, its storage fails (role
     "failed", readyz 503 "storage failed: ...", 503 `storage_failed` on
     /v1), its process exits with status 75 and Docker restarts it; the
     others keep acknowledging; then it is stopped, its data dir copied
     (`cp -a`) to a new, larger tmpfs and its container recreated there
     (reserve on again), and it must be ready and caught up within 60 s.

After each recovery, with the writers paused, every node must hold the same
records, every acknowledged append must be at its offset, no value may
appear twice (workload.check_converged, for both topics). Each step is
printed with the time since the start.

Needs to mount a tmpfs (root, or CAP_SYS_ADMIN) and a Docker engine that
sees this machine's mounts: where either is missing it says so and exits 0
(skipped). Every container, network, volume, mount and temp dir it made
is removed at the end, also on failure, Ctrl-C or SIGTERM.
"""

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from cluster import ComposeCluster, run, wait_until
from workload import Load, check_converged

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.dirname(HERE)
MIB = 1024 * 1024
SMALL = 3  # the node on the small disk (deploy/compose-small-disk.yaml)
# A snapshot every 16 MiB of log (or 2,000 entries), the log purged behind
# it: node 3, refused entries for a while, catches up by a snapshot install
# as well as by the log. 4 MiB segments on every node, as on node 3, so
# that their data dirs compare.
NODE_ENV = {"ORDO_SNAPSHOT_EVERY_MB": "16", "ORDO_SNAPSHOT_EVERY_ENTRIES": "2000",
            "ORDO_SEGMENT_MB": "4"}
# How long appends go on with node 3 out (below its reserve, or failed)
# before it is given space.
HOLD_S = 3.0
# How long a node given space has to be ready and hold every record.
RECOVER_S = 60

STARTED = time.monotonic()


def step(message):
    print(f"[{time.strftime('%H:%M:%S')} +{time.monotonic() - STARTED:5.1f} s] {message}",
          flush=True)


def detail(message):
    print(f"{'':22}{message}", flush=True)


def mib(n):
    return "-" if n is None else f"{n / MIB:.1f} MiB"


class Tmpfs:
    """Size-limited tmpfs mounts under one temp dir, owned by the image's
    user (uid 10001); unmount_all() removes them and the dir."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="ordodisk-")
        self.mounted = []

    def mount(self, name, size_mib):
        path = os.path.join(self.base, name)
        os.mkdir(path)
        run(["mount", "-t", "tmpfs", "-o",
             f"size={size_mib}m,uid=10001,gid=10001,mode=0700", "tmpfs", path], timeout=30)
        self.mounted.append(path)
        return path

    def grow(self, path, size_mib):
        run(["mount", "-o", f"remount,size={size_mib}m", path], timeout=30)

    def unmount(self, path):
        run(["umount", path], timeout=30, check=False)
        if os.path.ismount(path):
            # Busy (a container not yet gone): detach it; freed once unused.
            run(["umount", "-l", path], timeout=30, check=False)
        if not os.path.ismount(path):
            self.mounted.remove(path)

    def unmount_all(self):
        for path in list(reversed(self.mounted)):
            self.unmount(path)
        if self.mounted:
            print(f"could not unmount {self.mounted}", file=sys.stderr)
        else:
            shutil.rmtree(self.base, ignore_errors=True)


def can_mount_tmpfs():
    """None if this process can mount a tmpfs, else why not."""
    probe = tempfile.mkdtemp(prefix="ordodisk-probe-")
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            said = done.stderr.strip().splitlines()
            return said[0] if said else f"mount exited {done.returncode}"
        subprocess.run(["umount", probe], capture_output=True, timeout=30)
        return None
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    finally:
        try:
            os.rmdir(probe)
        except OSError:
            pass


def storage(cluster, node):
    status = cluster.status(node) or {}
    return status, status.get("storage") or {}


def show(cluster, node):
    """Node's view: readyz, role, storage, container."""
    code, text = cluster.readyz(node)
    status, st = storage(cluster, node)
    state, exit_code, restarts = cluster.container_state(node)
    detail(f"node {node} /readyz: {code} {text}")
    if status:
        detail(f"node {node} status: role {status.get('role')}, leader {status.get('leader')}, "
               f"storage: failure {st.get('failure')!r}, free {mib(st.get('free_bytes'))} "
               f"of {mib(st.get('total_bytes'))}, reserve {mib(st.get('reserve_bytes'))}, "
               f"below_reserve {st.get('below_reserve')}")
    else:
        detail(f"node {node} status: no answer")
    detail(f"node {node} container: {state}, last exit code {exit_code}, restarts {restarts}")
    return code, text, status, st


def show_metrics(cluster, node):
    """The node's ordo_disk_* gauges."""
    conn = http.client.HTTPConnection(cluster.addr(node), timeout=3)
    try:
        conn.request("GET", "/metrics")
        page = conn.getresponse().read().decode()
    except (OSError, http.client.HTTPException) as e:
        detail(f"node {node} /metrics: no answer ({e!r})")
        return {}
    finally:
        conn.close()
    gauges = {}
    for line in page.splitlines():
        if line.startswith("ordo_disk_"):
            name, value = line.split()[:2]
            gauges[name] = float(value)
    detail(f"node {node} /metrics: " + ", ".join(
        f"{k} {v:.0f}" if "bytes" not in k else f"{k} {v / MIB:.1f} MiB"
        for k, v in sorted(gauges.items())))
    return gauges


def show_usage(path):
    """What takes the space in a data dir, as du counts it on the host:
    each entry of the store, then each of its snapshot dir (one du, so a
    file linked from a snapshot counts once, where it appears first)."""
    store = os.path.join(path, "sled")
    parts = []
    if os.path.isdir(store):
        parts = [e for e in sorted(os.listdir(store)) if e != "ordo-snapshots"]
        snapshots = os.path.join(store, "ordo-snapshots")
        if os.path.isdir(snapshots):
            parts += [os.path.join("ordo-snapshots", e) for e in sorted(os.listdir(snapshots))]
    sizes = []
    if parts:
        out = run(["du", "-sk", *(os.path.join(store, p) for p in parts)], timeout=30,
                  check=False)
        for line in out.splitlines():
            kib, where = line.split("\t", 1)
            sizes.append(f"{os.path.relpath(where, store)} {int(kib) / 1024:.1f}")
    used = run(["du", "-sk", path], timeout=30, check=False).split()
    detail(f"node's data dir: {int(used[0]) / 1024 if used else 0:.1f} MiB used; MiB in sled/: "
           + ", ".join(sizes))


def used_mib(path):
    """MiB used under path, as du counts it (hard links once)."""
    out = run(["du", "-sk", path], timeout=30, check=False).split()
    return int(out[0]) / 1024 if out else 0.0


def data_dir_on_host(cluster, node):
    """Where the node's /var/lib/ordo is on this machine (its volume's
    directory, or the bind-mounted one)."""
    return run(["docker", "inspect", "--format",
                '{{range .Mounts}}{{if eq .Destination "/var/lib/ordo"}}{{.Source}}{{end}}{{end}}',
                cluster.containers[node]])


def show_cluster_status(cluster, on):
    """`ordo cluster status` inside node `on`'s container: the operator's table."""
    table = cluster.exec_ordo(on, "cluster", "status")
    for line in table.splitlines():
        detail(f"| {line}")


def show_log(cluster, node, since, *needles, most=3):
    """The node's log lines since `since` holding any of the needles."""
    lines = [line for line in cluster.container_logs(node, since)
             if any(n in line for n in needles)]
    for line in lines[:most]:
        detail(f"log: {line[:400]}")
    if len(lines) > most:
        detail(f"log: ... {len(lines) - most} more such lines")
    return lines


def keep_leadership_off(cluster, node):
    """Hands leadership to another node if `node` leads: a leader below its
    reserve refuses every append (507), so the fault is on a follower."""
    leader = cluster.wait_leader()
    if leader != node:
        return leader
    target = next(n for n in cluster.nodes if n != node)
    step(f"node {node} leads: handing leadership to node {target} (POST /v1/cluster/leader)")
    answer = cluster.request(target, "POST", "/v1/cluster/leader", {"id": target},
                             timeout_s=15)
    if answer.status != 200:
        raise AssertionError(f"leadership transfer answered {answer.status} {answer.body}")
    return cluster.wait_leader(among=[n for n in cluster.nodes if n != node])


def converge(cluster, loads, what):
    """With every writer paused: every node holds the same records, and
    every acknowledged append is there (workload.check_converged). Writers
    paused before stay paused."""
    running = [load for load in loads if not load.paused]
    for load in running:
        load.pause()
    try:
        for load in loads:
            records, acked, unacked = check_converged(cluster, load)
            detail(f"{what}: topic {load.topic!r}: {records} records on every node, all {acked} "
                   f"acknowledged appends at their offsets ({unacked} unacknowledged ones landed)")
    finally:
        for load in running:
            load.resume()


def wait_others_ack(cluster, loads, since, what):
    """Nodes other than SMALL acknowledged appends sent since `since`."""
    def acks():
        return sum(load.acks_since(since) for load in loads)
    wait_until(f"appends acknowledged {what}", acks, 30)
    counts = ", ".join(f"{load.acks_since(since)} to {load.topic!r}" for load in loads)
    leader = cluster.leader()
    detail(f"nodes 1-2 kept acknowledging {what}: {counts} (appends sent since; "
           f"leader {leader})")
    if leader == SMALL:
        raise AssertionError(f"node {SMALL} leads while its disk is out")


def leader_below_reserve(cluster, loads, since):
    """Node SMALL led as it went below its reserve (elected while its disk
    filled, in an election under load, or --small-disk-leads): it answers
    appends 507 and must hand leadership to another voter by itself, so
    that the cluster takes appends again under a node with space."""
    others = [n for n in cluster.nodes if n != SMALL]
    step(f"node {SMALL} led as it went below its reserve: it must hand leadership over")
    leader = wait_until(f"node {SMALL} to hand leadership over",
                        lambda: cluster.leader(among=others), 15, 0.1)
    took = loads[0].first_ack_after(since, SMALL, timeout_s=30)
    refused = sum(count for load in loads for (_, code, _), count in load.refusals.items()
                  if code == 507)
    detail(f"leader now node {leader}; the first append sent after node {SMALL} went below its "
           f"reserve was acknowledged {took:.1f} s after; the writers got {refused} 507 "
           f"insufficient_storage in all so far")
    show_log(cluster, SMALL, None, "handed leadership", "could not hand leadership")


def wait_ready_again(cluster, node, since, what):
    wait_until(f"node {node} /readyz 200 after {what}", lambda: cluster.ready(node), RECOVER_S, 0.25)
    step(f"node {node} ready {time.monotonic() - since:.1f} s after {what}")


def fill(cluster, heavy, node, until, what, timeout_s=120):
    """Resumes the heavy writers until until(status, storage) holds for
    node; prints progress every 5 s. Returns the seconds it took and the
    MiB acknowledged meanwhile."""
    t0 = time.monotonic()
    acked0 = len(heavy.acked)
    heavy.resume()
    last = t0
    deadline = t0 + timeout_s
    while True:
        status, st = storage(cluster, node)
        if until(status, st):
            return (time.monotonic() - t0,
                    (len(heavy.acked) - acked0) * heavy.value_bytes / MIB)
        now = time.monotonic()
        if now - last >= 5:
            last = now
            detail(f"filling: node {node} free {mib(st.get('free_bytes'))}; "
                   f"{(len(heavy.acked) - acked0) * heavy.value_bytes / MIB:.0f} MiB "
                   f"acknowledged so far")
        if now > deadline:
            raise TimeoutError(f"node {node}'s disk not {what} within {timeout_s} s "
                               f"(status {status or 'no answer'})")
        time.sleep(0.25)


def save_logs(cluster, log_dir, nodes, suffix=""):
    """Each node's container log into log_dir (if given)."""
    if not log_dir:
        return
    os.makedirs(log_dir, exist_ok=True)
    for n in nodes:
        name = os.path.join(log_dir, f"ordo-{n}{suffix}.log")
        try:
            with open(name, "w") as f:
                f.write("\n".join(cluster.container_logs(n)) + "\n")
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"(no log of node {n}: {e})", file=sys.stderr)


def room_to_catch_up(cluster, data, args):
    """The MiB a volume for the node whose data dir is `data` needs, with the
    MiB of records the leader holds and the MiB the node holds. A node that
    was away catches up by a snapshot once the leader purged the log it
    missed, and installing one takes room for the snapshot received and for
    the records written from it, next to the records it replaces: its
    content, plus 2.5 x the records a healthy node holds, plus the reserve,
    in whole 64 MiB."""
    leader_dir = data_dir_on_host(cluster, cluster.wait_leader())
    records = used_mib(os.path.join(leader_dir, "sled", "records"))
    held = used_mib(data)
    size = int(held + 2.5 * records + args.reserve_mib + 63) // 64 * 64
    return max(args.disk_mib * 2, size), records, held


def run_scenario(cluster, disks, light, heavy, args):
    small_reserve = args.reserve_mib * MIB
    # -- start --
    cluster.up()
    wait_until("every container healthy (docker health check)",
               lambda: all(cluster.health(n) == "healthy" for n in cluster.nodes), 90, 1)
    _, st = storage(cluster, SMALL)
    if abs((st.get("total_bytes") or 0) - args.disk_mib * MIB) > MIB:
        return (f"node {SMALL} sees a volume of {mib(st.get('total_bytes'))}, not the "
                f"{args.disk_mib} MiB tmpfs mounted for it: the Docker engine does not see "
                f"this machine's mounts")
    leader = keep_leadership_off(cluster, SMALL)
    step(f"all healthy; leader {leader}; node {SMALL} on a {args.disk_mib} MiB tmpfs with a "
         f"{args.reserve_mib} MiB reserve and 4 MiB segments; 3 single-record writers start")
    light.start()
    heavy.start()  # paused: it runs only while a disk is to be filled
    wait_until("first appends", lambda: light.acks_since(0) >= 20, 30)
    show(cluster, SMALL)

    # -- 1. below the reserve --
    if args.small_disk_leads:
        answer = cluster.request(SMALL, "POST", "/v1/cluster/leader", {"id": SMALL},
                                 timeout_s=15)
        step(f"--small-disk-leads: leadership handed to node {SMALL}: {answer.status}; "
             f"leader {cluster.wait_leader()}")
    data = cluster.env["ORDO_DATA_3"]
    show_usage(data)
    append_mib = heavy.records_per_append * heavy.value_bytes / MIB
    heavy.interval_s = append_mib * len(heavy.threads) / args.fill_mib_per_s
    step(f"(1) heavy writers ({heavy.records_per_append} x {heavy.value_bytes // 1024} KiB "
         f"per append, {args.fill_mib_per_s:g} MiB/s) fill node {SMALL}'s disk down to its "
         f"reserve")
    took, filled = fill(cluster, heavy, SMALL,
                        lambda s, st: st.get("below_reserve") or st.get("failure"),
                        "below its reserve")
    t_low = time.monotonic()
    step(f"node {SMALL} below its reserve after {took:.1f} s of heavy appends "
         f"({filled:.0f} MiB acknowledged)")
    status, _ = storage(cluster, SMALL)
    if status.get("role") == "leader":
        leader_below_reserve(cluster, [light, heavy], t_low)
    time.sleep(HOLD_S)
    code, text, status, st = show(cluster, SMALL)
    if st.get("failure"):
        raise AssertionError(f"node {SMALL}'s storage failed instead of stopping at its reserve: "
                             f"{st['failure']}")
    if code != 503 or not text.startswith("disk space low:"):
        raise AssertionError(f"node {SMALL} /readyz: expected 503 'disk space low: ...', got "
                             f"{code} {text!r}")
    if status.get("role") != "follower" or not st.get("below_reserve"):
        raise AssertionError(f"node {SMALL}: expected a follower below its reserve, got {status}")
    if cluster.container_state(SMALL)[0] != "running":
        raise AssertionError(f"node {SMALL}'s container is not running")
    show_usage(data)
    gauges = show_metrics(cluster, SMALL)
    if gauges.get("ordo_disk_below_reserve") != 1:
        raise AssertionError(f"node {SMALL}: ordo_disk_below_reserve is not 1: {gauges}")
    wait_others_ack(cluster, [light, heavy], t_low, f"while node {SMALL} is below its reserve")
    show_cluster_status(cluster, cluster.leader() or 1)
    show_log(cluster, SMALL, None, "disk space")
    heavy.pause()

    # Grown enough for a snapshot install too: the node may catch up by
    # one if the leader purged the log it missed meanwhile.
    grown, records, held = room_to_catch_up(cluster, data, args)
    step(f"give space (a): grow node {SMALL}'s tmpfs in place to {grown} MiB "
         f"(mount -o remount,size={grown}m; it holds {held:.0f} MiB, the leader "
         f"{records:.0f} MiB of records)")
    t_give = time.monotonic()
    disks.grow(disks.mounted[0], grown)
    wait_ready_again(cluster, SMALL, t_give, "the growth")
    converge(cluster, [light, heavy], f"node {SMALL} grown")
    step(f"node {SMALL} caught up: {time.monotonic() - t_give:.1f} s after the growth")
    show(cluster, SMALL)
    show_usage(data)
    show_log(cluster, SMALL, None, "above the reserve again")

    # -- 2. reserve off: the disk fills, storage fails --
    keep_leadership_off(cluster, SMALL)
    step(f"(2) recreate node {SMALL}'s container with the reserve off (ORDO_MIN_FREE_BYTES=0), "
         f"same tmpfs")
    cluster.env["ORDO_MIN_FREE_BYTES"] = "0"
    save_logs(cluster, args.log_dir, [SMALL], "-before-2")
    cluster.recreate(SMALL)
    wait_until(f"node {SMALL} /readyz 200", lambda: cluster.ready(SMALL), RECOVER_S, 0.25)
    keep_leadership_off(cluster, SMALL)
    show(cluster, SMALL)
    since_wall = time.time()
    heavy.interval_s = append_mib * len(heavy.threads) / args.flood_mib_per_s
    step(f"heavy writers ({args.flood_mib_per_s:g} MiB/s) fill node {SMALL}'s disk up")
    took, filled = fill(cluster, heavy, SMALL,
                        lambda s, st: st.get("failure") or s.get("role") == "failed"
                        or (not s and 75 in cluster.exit_codes(SMALL, since_wall)),
                        "full (storage failed)")
    t_failed = time.monotonic()
    # What node 3 misses from here on, it must catch up on later.
    heavy.pause()
    step(f"node {SMALL}'s storage failed after {took:.1f} s of heavy appends "
         f"({filled:.0f} MiB acknowledged); heavy writers stop")
    code, text, status, st = show(cluster, SMALL)
    if status:  # still up, in its grace period before it exits
        if code != 503 or not text.startswith("storage failed:"):
            raise AssertionError(f"node {SMALL} /readyz: expected 503 'storage failed: ...', "
                                 f"got {code} {text!r}")
        if status.get("role") != "failed" or status.get("leader") is not None:
            raise AssertionError(f"node {SMALL}: expected role failed and no leader, got "
                                 f"role {status.get('role')} leader {status.get('leader')}")
        answer = cluster.request(SMALL, "GET", "/v1/topics", timeout_s=3)
        error = (answer.body or {}).get("error", {}) if isinstance(answer.body, dict) else {}
        detail(f"node {SMALL} GET /v1/topics: {answer.status} {error.get('code')}: "
               f"{error.get('message')}")
        if answer.status != 503 or error.get("code") != "storage_failed":
            raise AssertionError(f"node {SMALL}: /v1 answered {answer.status} {answer.body}, "
                                 f"not 503 storage_failed")
        show_cluster_status(cluster, cluster.leader() or 1)
    show_usage(data)
    show_log(cluster, SMALL, since_wall, "storage failed")
    wait_others_ack(cluster, [light], t_failed, f"while node {SMALL}'s storage failed")
    wait_until(f"node {SMALL}'s process to exit with status 75",
               lambda: 75 in cluster.exit_codes(SMALL, since_wall), 30, 0.5)
    step(f"node {SMALL} exited with status 75 {time.monotonic() - t_failed:.1f} s after its "
         f"storage failed")
    wait_until(f"Docker to restart node {SMALL}",
               lambda: cluster.container_state(SMALL)[2] >= 1, 30, 0.5)
    time.sleep(2)  # what the restarted node makes of its full disk
    code, text, status, st = show(cluster, SMALL)
    if code == 200:
        raise AssertionError(f"node {SMALL} ready on a full disk")
    detail(f"exit codes since it was recreated: {cluster.exit_codes(SMALL, since_wall)}")
    show_log(cluster, SMALL, since_wall, "exiting with status", most=4)
    wait_others_ack(cluster, [light], time.monotonic() - 2, f"while node {SMALL} restarts")

    # -- give space (b): a new, larger volume with the same content --
    bigger, records, held = room_to_catch_up(cluster, data, args)
    bigger = max(args.disk_mib * 4, bigger)
    step(f"give space (b): stop node {SMALL}'s container, copy its data dir ({held:.0f} MiB) to "
         f"a new {bigger} MiB tmpfs (cp -a), recreate the container on it with the reserve on "
         f"(the leader holds {records:.0f} MiB of records)")
    t_give = time.monotonic()
    old = disks.mounted[0]
    cluster.stop(SMALL)
    new = disks.mount("b", bigger)
    run(["cp", "-a", f"{old}/.", new], timeout=120)
    detail(f"copied in {time.monotonic() - t_give:.1f} s (container stopped since)")
    show_usage(new)
    cluster.env["ORDO_DATA_3"] = new
    cluster.env["ORDO_MIN_FREE_BYTES"] = str(small_reserve)
    save_logs(cluster, args.log_dir, [SMALL], "-before-b")
    cluster.recreate(SMALL)
    disks.unmount(old)
    wait_ready_again(cluster, SMALL, t_give, "the stop")
    converge(cluster, [light, heavy], f"node {SMALL} on its new disk")
    step(f"node {SMALL} caught up: {time.monotonic() - t_give:.1f} s after the stop")
    show(cluster, SMALL)
    show_usage(new)
    show_cluster_status(cluster, cluster.leader() or 1)
    return None


def interrupt(signum, frame):
    """Ctrl-C, or SIGTERM (a CI timeout, say): stop and clean up."""
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=os.environ.get("ORDO_IMAGE", "ordo:dev"))
    parser.add_argument("--disk-mib", type=int, default=64, help="node 3's tmpfs at the start")
    parser.add_argument("--reserve-mib", type=int, default=16,
                        help="node 3's free-space reserve in (1)")
    parser.add_argument("--fill-mib-per-s", type=float, default=4,
                        help="the heavy writers' rate in (1): the node samples its free space "
                             "every 0.5 s, so the reserve must hold what it writes meanwhile")
    parser.add_argument("--log-dir",
                        help="save each container's log there (node 3's before each recreate)")
    parser.add_argument("--small-disk-leads", action="store_true",
                        help="make node 3 the leader before (1), as an election under load "
                             "may: (1) then also checks that it hands leadership over")
    parser.add_argument("--flood-mib-per-s", type=float, default=16,
                        help="the heavy writers' rate in (2), where the disk fills up")
    args = parser.parse_args()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    why_not = can_mount_tmpfs()
    if why_not:
        print(f"SKIPPED disk_full.py: cannot mount a tmpfs here ({why_not}); it needs root "
              f"(or CAP_SYS_ADMIN) on the Docker engine's machine")
        return 0

    project = f"ordodisk{os.getpid()}"
    disks = Tmpfs()
    cluster = None
    light = heavy = None
    failed = True
    try:
        first = disks.mount("a", args.disk_mib)
        cluster = ComposeCluster(os.path.join(DEPLOY, "compose.yaml"), project, 3, args.image,
                                 NODE_ENV,
                                 extra_files=[os.path.join(DEPLOY, "compose-small-disk.yaml")])
        cluster.env["ORDO_DATA_3"] = first
        cluster.env["ORDO_MIN_FREE_BYTES"] = str(args.reserve_mib * MIB)
        light = Load(cluster, "disk", 3)
        heavy = Load(cluster, "fill", 2, records_per_append=16, value_bytes=64 * 1024,
                     timeout_s=10)
        heavy.pause()
        step(f"compose project {project}: 3 nodes of {args.image} on "
             + ", ".join(cluster.addr(n) for n in cluster.nodes)
             + f"; node {SMALL}'s data dir on the tmpfs {first}")
        skipped = run_scenario(cluster, disks, light, heavy, args)
        if skipped:
            print(f"SKIPPED disk_full.py: {skipped}")
            failed = False
            return 0
        light.stop()
        heavy.stop()
        refused = ", ".join(f"node {n} {code} {err} x{count}" for (n, code, err), count
                            in sorted((light.refusals + heavy.refusals).items(),
                                      key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))))
        print()
        print(f"PASS in {time.monotonic() - STARTED:.0f} s: {len(light.acked)} single-record and "
              f"{len(heavy.acked) // heavy.records_per_append} 1 MiB appends acknowledged "
              f"({len(heavy.acked) * heavy.value_bytes / MIB:.0f} MiB), "
              f"{light.failures + heavy.failures} failed or unknown attempts")
        print(f"answers other than 2xx the writers got (node status code x count): "
              f"{refused or 'none'}")
        failed = False
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    except Exception:
        if cluster is not None:
            try:
                for n in cluster.nodes:
                    if n in cluster.containers and cluster.status(n) is None:
                        print(f"node {n} does not answer GET /v1/cluster within 2 s; its "
                              f"container: {cluster.container_state(n)}", file=sys.stderr)
            except Exception as e:  # a courtesy, as the logs below
                print(f"(no node states: {e})", file=sys.stderr)
            try:
                print(cluster.logs(tail=60), file=sys.stderr)
            except Exception as e:  # the logs are a courtesy; the failure matters
                print(f"(no logs: {e})", file=sys.stderr)
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            for load in (light, heavy):
                if load is not None:
                    load.stop()
        finally:
            step(f"removing compose project {project}, unmounting {disks.base}")
            if cluster is not None:
                if cluster.containers:
                    save_logs(cluster, args.log_dir, cluster.nodes)
                cluster.down()
            disks.unmount_all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
