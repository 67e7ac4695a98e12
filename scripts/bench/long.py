#!/usr/bin/env python3
"""make bench-long: is the cost of an append flat as the log grows, and does
a node's memory stay bounded?

Starts a 3-node release cluster (scripts/bench/ordo_cluster.sh: ports
7101-7103, node 1 leads), appends RECORDS records (default 10,000,000) with
`ordo bench --batch 100 -c 16 --records N` on the leader, and every SAMPLE_SECS
samples the topic's end offset, each node's RSS (/proc/PID/status VmRSS) and
its data dir's size. Snapshots are taken every SNAPSHOT_EVERY entries (25,000
entries = 2.5 M records at 100 per append), so several snapshots of a large
state happen during the run. Then one consumer reads everything back from a
follower, with `local` pages and with the NDJSON stream (`ordo bench --tail`),
while RSS is still sampled; then that follower is `kill -9`ed and started again,
timed until it serves the last record from its own state. Writes
docs/bench-long.md.

Usage: scripts/bench/long.py [--records N] [--out FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(ROOT, "scripts/bench/ordo_cluster.sh")
LEADER, FOLLOWER = "127.0.0.1:7101", "127.0.0.1:7102"
TOPIC = "long"


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def dir_mib(path):
    """Disk space the files under `path` take, as `du` counts it: allocated
    blocks, each file once however many names (a snapshot's hard links to
    record segments) it has."""
    total, seen = 0, set()
    for base, _, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(base, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total / (1024 * 1024)


class Sampler(threading.Thread):
    """Samples end offset, RSS and disk every `every` seconds until stopped."""

    def __init__(self, pids, data_dir, every):
        super().__init__(daemon=True)
        self.pids, self.data_dir, self.every = pids, data_dir, every
        self.samples, self.phase = [], "append"
        self.stop = threading.Event()
        self.start_time = time.monotonic()

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.every)
        self.sample()

    def sample(self):
        try:
            end = get_json(f"http://{LEADER}/v1/topics/{TOPIC}?consistency=local")["end_offset"]
        except Exception:  # the topic may not exist yet; keep sampling
            end = self.samples[-1]["end"] if self.samples else 0
        nodes = sorted(os.listdir(self.data_dir)) if os.path.isdir(self.data_dir) else []
        self.samples.append({
            "t": time.monotonic() - self.start_time,
            "phase": self.phase,
            "end": end,
            "rss": [rss_mib(pid) for pid in self.pids],
            "disk": [dir_mib(os.path.join(self.data_dir, n)) for n in nodes if n.startswith("n") and not n.endswith(".pid") and not n.endswith(".log")],
        })


def ordo(binary, *args, env=None):
    out = subprocess.run([binary, *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"ordo {' '.join(args)} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def rate_between(samples, low, high):
    """Records/s between the samples where the end offset first passed
    `low` and `high`."""
    first = next((s for s in samples if s["end"] >= low), None)
    last = next((s for s in samples if s["end"] >= high), None)
    if not first or not last or last["t"] <= first["t"]:
        return None
    return (last["end"] - first["end"]) / (last["t"] - first["t"])


def memory_at_start():
    """The machine's memory before the run, in words for the report: on a
    VM whose balloon reports free pages to the host, page cache that grows
    into free memory costs a host fault per page, and a run that writes
    more than the page cache already holds slows down for it
    (docs/performance.md, "A long log")."""
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) // 1024
    reporting = os.path.exists("/sys/module/page_reporting") and os.path.exists(
        "/sys/bus/virtio/drivers/virtio_balloon")
    return (f"The machine's memory at the start: {info['MemFree']:,} MiB free and "
            f"{info['Cached']:,} MiB of page cache of {info['MemTotal']:,} MiB"
            + ("; a VM balloon with free page reporting, so page cache grown into free "
               "memory costs the host a fault per page (`performance.md`, \"A long log\")."
               if reporting else "."))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--sample-secs", type=float, default=1.0)
    parser.add_argument("--snapshot-every", type=int, default=25_000)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target/release/ordo"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs/bench-long.md"))
    args = parser.parse_args()
    args.memory = memory_at_start()

    bench_dir = os.environ.get("ORDO_BENCH_DIR", "/tmp/ordo-bench")
    env = dict(os.environ, ORDO_BIN=args.bin, ORDO_BENCH_DIR=bench_dir,
               ORDO_SNAPSHOT_EVERY_ENTRIES=str(args.snapshot_every))
    subprocess.run([CLUSTER, "start"], check=True, env=env)
    try:
        pids = subprocess.run([CLUSTER, "pids"], check=True, capture_output=True, text=True,
                              env=env).stdout.strip().split(",")
        sampler = Sampler(pids, os.path.join(bench_dir, "data"), args.sample_secs)
        sampler.start()
        print(f"appending {args.records:,} records ...", flush=True)
        append = ordo(args.bin, "bench", "--addr", LEADER, "--topic", TOPIC, "--batch", "100",
                      "-c", "16", "--records", str(args.records), "--seconds", "7200",
                      "--warmup-secs", "0", "--json")
        # A sample when the load stops, so the last window's rate is not
        # diluted by the idle part of a sampling interval.
        sampler.sample()
        print(f"append: {append}", flush=True)
        time.sleep(2 * args.sample_secs)  # the followers' applies and snapshots settle
        tails = {}
        for via in ("pages", "stream"):
            sampler.phase = f"tail {via}"
            tails[via] = ordo(args.bin, "bench", "--tail", via, "--addr", FOLLOWER,
                              "--topic", TOPIC, "--seconds", "1200", "--json")
            print(f"tail {via}: {tails[via]}", flush=True)
        sampler.stop.set()
        sampler.join()
        status = get_json(f"http://{LEADER}/v1/cluster")
        end = get_json(f"http://{LEADER}/v1/topics/{TOPIC}")["end_offset"]
        restart_secs = restart_follower(args.bin, bench_dir, int(pids[1]), end, env)
        print(f"follower restarted after kill -9: serving again in {restart_secs} s", flush=True)
    finally:
        subprocess.run([CLUSTER, "stop"], env=env)
    write_report(args, sampler.samples, append, tails, status, end, restart_secs)


def restart_follower(binary, bench_dir, pid, end, env, timeout_secs=120):
    """kill -9s node 2 (a follower), starts it again on its own (as `make node
    N=2` would) and answers the seconds until it serves the topic's last
    record from its own state, or None if not within `timeout_secs`."""
    os.kill(pid, 9)
    time.sleep(1)
    started = time.time()
    node = subprocess.Popen([binary, "local-cluster", "--nodes", "3", "--base-port", "7101",
                             "--data-dir", os.path.join(bench_dir, "data"), "--node", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://{FOLLOWER}/v1/topics/{TOPIC}/records?from={end - 1}&consistency=local&limit=1"
    served = None
    try:
        while time.time() - started < timeout_secs:
            try:
                if get_json(url, timeout=1).get("records"):
                    served = round(time.time() - started, 2)
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
    finally:
        node.send_signal(2)
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
    return served


def write_report(args, samples, append, tails, status, end, restart_secs):
    samples = sorted(samples, key=lambda s: s["t"])  # two threads sample
    n = args.records
    early = rate_between(samples, 0.05 * n, 0.15 * n)
    late = rate_between(samples, 0.85 * n, 0.95 * n)
    windows = []
    for a, b in zip(samples, samples[1:]):
        if a["phase"] == "append" and b["end"] > a["end"]:
            windows.append((b["end"] - a["end"]) / (b["t"] - a["t"]))
    peak = [max((s["rss"][i] or 0) for s in samples) for i in range(len(samples[0]["rss"]))]
    peak_disk = [max(s["disk"][i] for s in samples if len(s["disk"]) > i)
                 for i in range(len(samples[-1]["disk"]))]
    lines = [
        "# Long-log benchmark",
        "",
        f"`make bench-long` (`scripts/bench/long.py --records {n}`), run "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: a 3-node release cluster on "
        "loopback (one machine, 2 cores), `ordo bench --batch 100 -c 16` on the leader "
        f"(100-byte values) until {n:,} records are acknowledged, snapshots every "
        f"{args.snapshot_every:,} entries ({args.snapshot_every * 100:,} records) or every "
        "64 MiB of Raft log (`--snapshot-every-mb`'s default), whichever comes first, then one "
        "consumer reading everything back from a follower, then that follower `kill -9`ed and "
        "started again. Sampled every "
        f"{args.sample_secs:g} s. {args.memory}",
        "",
        "## Summary",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| records appended | {append['records_per_s'] * append['seconds']:,.0f} in {append['seconds']:.0f} s | |",
        f"| append throughput, whole run | {append['records_per_s']:,.0f} records/s ({append['errors']} errors, max latency {append['max_ms']:.0f} ms) | |",
        f"| throughput at 5-15 % of the log | {early:,.0f} records/s | |" if early else "| throughput early | n/a | |",
        f"| throughput at 85-95 % of the log | {late:,.0f} records/s ({(late / early - 1) * 100:+.0f} %) | within 20 % of the early figure |" if early and late else "| throughput late | n/a | |",
        f"| slowest {args.sample_secs:g}-s window while appending | {min(windows):,.0f} records/s (median {statistics.median(windows):,.0f}) | |" if windows else "| windows | n/a | |",
        f"| peak RSS per node (MiB) | {', '.join(f'{p:.0f}' for p in peak)} | under 256 |",
        f"| peak data dir per node (MiB) | {', '.join(f'{d:.0f}' for d in peak_disk)} | |",
        f"| data dir per node at the end (MiB), over the values held ({end * 100 / 2**20:,.0f} MiB of 100-byte values) | "
        f"{', '.join(f'{d:.0f} ({d / (end * 100 / 2**20):.1f}x)' for d in samples[-1]['disk'])} | at most 2x |",
        f"| a follower `kill -9`ed at the end, started again: serving its last record from its own state after | "
        f"{'%.2f s' % restart_secs if restart_secs is not None else 'not within 120 s'} | within 10 s |",
        f"| tail from a follower, `local` pages | {tails['pages']['records_per_s']:,.0f} records/s ({tails['pages']['records']:,} records) | 200,000 |",
        f"| tail from a follower, NDJSON stream | {tails['stream']['records_per_s']:,.0f} records/s ({tails['stream']['records']:,} records) | 200,000 |",
        f"| snapshots at the end | last snapshot index {status.get('snapshot_index')}, purged to {status.get('purged_index')} | |",
        "",
        "## Samples",
        "",
        "| t (s) | phase | end offset | RSS node 1/2/3 (MiB) | data dir 1/2/3 (MiB) |",
        "|---|---|---|---|---|",
    ]
    step = max(1, len(samples) // 40)
    for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        rss = "/".join(f"{r:.0f}" if r is not None else "-" for r in s["rss"])
        disk = "/".join(f"{d:.0f}" for d in s["disk"])
        lines.append(f"| {s['t']:.0f} | {s['phase']} | {s['end']:,} | {rss} | {disk} |")
    lines.append("")
    with open(args.out, "w") as out:
        out.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
