#!/usr/bin/env python3
"""Disk use and pass cost of compaction on a real 3-node cluster.

Starts `ordo local-cluster` (release build) in a temporary dir, makes topic
`profiles` compact, appends ROUNDS x 200,000 records over KEYS keys (appends
of 500 records, one client) and prints each node's data dir size after each
round; then times one `POST /v1/topics/profiles/compact` on a second cluster
whose background cleaner is off. Not a test: figures for the docs.

    cargo build --release && python3 scripts/compaction_disk.py [ROUNDS] [KEYS]
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.request

ORDO = os.path.join(os.path.dirname(__file__), "..", "target", "release", "ordo")
ROUND, BATCH = 200_000, 500


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def append(base, first, count, keys):
    for start in range(first, first + count, BATCH):
        records = [{"key": f"k{i % keys}", "value": {"seq": i, "pad": "x" * 60}}
                   for i in range(start, start + BATCH)]
        call("POST", f"{base}/v1/topics/profiles/records", {"records": records})


def mib(path):
    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, files in os.walk(path) for f in files)
    return total // (1024 * 1024)


def cluster(dir, port, env):
    proc = subprocess.Popen([ORDO, "local-cluster", "--nodes", "3", "--base-port", str(port),
                             "--data-dir", dir], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/readyz", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    call("PUT", f"{base}/v1/topics/profiles", {"cleanup": "compact"})
    return proc, base


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    keys = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    work = tempfile.mkdtemp(prefix="ordo-compaction-")
    try:
        env = {"ORDO_CLEANUP_INTERVAL_MS": "1000", "ORDO_SNAPSHOT_EVERY_ENTRIES": "200"}
        proc, base = cluster(f"{work}/a", 7501, env)
        print(f"background cleaner every 1 s, snapshot every 200 entries, {keys} keys")
        for r in range(rounds):
            append(base, r * ROUND, ROUND, keys)
            time.sleep(2)
            sizes = " / ".join(f"{mib(f'{work}/a/n{n}')}" for n in (1, 2, 3))
            held = call("GET", f"{base}/v1/topics/profiles")["records"]
            print(f"after {(r + 1) * ROUND:>9} records: data dirs {sizes} MiB, topic holds {held}")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)

        proc, base = cluster(f"{work}/b", 7511, {"ORDO_CLEANUP_INTERVAL_MS": "3600000"})
        append(base, 0, ROUND, keys)
        started = time.time()
        done = call("POST", f"{base}/v1/topics/profiles/compact")
        print(f"one POST compact: removed {done['removed_records']} records "
              f"in {time.time() - started:.2f} s")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
