#!/usr/bin/env python3
"""How much of a peer's lead is the load's shape: ordo, NATS JetStream and
(with ETCD=1) etcd under the peers' gobench in interleaved rounds, the peers
both over one connection (as their scripts run them) and over a connection
per client (the shape HTTP/1.1 needs), and (with WRK=1) ordo under `wrk -t1`,
a load generator whose client costs less per request than gobench's NATS
client. Prints each round and the medians: operations/s, server and client
CPU per operation, p50. A fresh cluster for every round; ports as
`ordo_cluster.sh` and the peers' scripts use them.

  usage: shape.py ROUNDS SECS CONC [ORDO_BIN]
  env:   PEERS_DIR (../shared/peers), PEERS_BIN (/tmp/peers/bin), WRK=1, ETCD=1
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.environ.get("PEERS_DIR", os.path.join(ROOT, "..", "shared", "peers"))
GOBENCH = os.path.join(os.environ.get("PEERS_BIN", "/tmp/peers/bin"), "gobench")
VENV_PYTHON = os.path.join(os.environ.get("PEERS_VENV", "/tmp/peers/venv"), "bin", "python")
CLUSTER = os.path.join(ROOT, "scripts", "bench", "ordo_cluster.sh")
URL = "http://127.0.0.1:7101/v1/topics/bench/records"
WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{"records":[{"value":"' .. string.rep("x", 100) .. '"}]}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d\\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(50)))
end
"""


def run(cmd, env=None):
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Ordo:
    def __init__(self, binary):
        self.env = dict(os.environ, ORDO_BIN=binary, ORDO_BENCH_DIR="/tmp/ordo-shape")

    def __enter__(self):
        run([CLUSTER, "start"], self.env)
        return run([CLUSTER, "pids"], self.env).strip()

    def __exit__(self, *_):
        subprocess.run([CLUSTER, "stop"], env=self.env, stdout=subprocess.DEVNULL)


class Peer:
    def __init__(self, name):
        self.script = os.path.join(PEERS, f"{name}_cluster.sh")
        self.name = name

    def __enter__(self):
        subprocess.run([self.script, "stop"], stdout=subprocess.DEVNULL)
        run([self.script, "start"], dict(os.environ, NATS_SYNC="always"))
        base = f"/tmp/peers/{self.name}"
        return ",".join(open(f"{base}/n{i}.pid").read().strip() for i in (1, 2, 3))

    def __exit__(self, *_):
        subprocess.run([self.script, "stop"], stdout=subprocess.DEVNULL)


def ordo_gobench(binary, conc, secs):
    with Ordo(binary) as pids:
        return last_json(run([GOBENCH, "-system", "http", "-url", URL, "-c", str(conc),
                              "-s", str(secs), "-server-pids", pids]))


def ordo_wrk(binary, conc, secs, lua):
    with Ordo(binary) as pids:
        pids = pids.split(",")
        wrk = subprocess.Popen(["wrk", "-t1", f"-c{conc}", f"-d{int(secs) + 1}s", "-s", lua, URL],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        before, started = [cpu_seconds(p) for p in pids + [wrk.pid]], time.time()
        time.sleep(secs - 1)
        after, elapsed = [cpu_seconds(p) for p in pids + [wrk.pid]], time.time() - started
        out = wrk.communicate()[0]
        line = next(l for l in out.splitlines() if l.startswith("WRK "))
        requests, duration_us, errors, p50_us = map(int, line.split()[1:])
        return {
            "ops_per_s": requests / (duration_us / 1e6),
            "server_cpu_cores": sum(after[i] - before[i] for i in range(3)) / elapsed,
            "client_cpu_cores": (after[3] - before[3]) / elapsed,
            "p50_ms": p50_us / 1000,
            "errors": errors,
        }


def nats(conc, secs, conns):
    with Peer("nats") as pids:
        info = last_json(run([VENV_PYTHON, os.path.join(PEERS, "nats_stream.py"), "create", "--name", "BENCH",
                              "--subjects", "bench.>", "--replicas", "3", "--storage", "file"]))
        servers = f"nats://127.0.0.1:423{info['leader'][1:]}"
        return last_json(run([GOBENCH, "-system", "nats", "-servers", servers, "-conns", str(conns),
                              "-stream", "BENCH", "-subject", "bench.in", "-c", str(conc),
                              "-s", str(secs), "-server-pids", pids]))


def etcd(conc, secs, conns):
    with Peer("etcd") as pids:
        endpoints = run([os.path.join(PEERS, "etcd_cluster.sh"), "leader"]).strip()
        return last_json(run([GOBENCH, "-system", "etcd", "-endpoints", endpoints, "-conns", str(conns),
                              "-c", str(conc), "-s", str(secs), "-server-pids", pids]))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, secs, conc = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    binary = sys.argv[4] if len(sys.argv) > 4 else os.path.join(ROOT, "target", "release", "ordo")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(WRK_SCRIPT)
    variants = [
        ("ordo", lambda: ordo_gobench(binary, conc, secs)),
        ("nats conns=1", lambda: nats(conc, secs, 1)),
        (f"nats conns={conc}", lambda: nats(conc, secs, conc)),
    ]
    if os.environ.get("WRK"):
        variants.append(("ordo wrk", lambda: ordo_wrk(binary, conc, secs, lua.name)))
    if os.environ.get("ETCD"):
        variants.append(("etcd conns=1", lambda: etcd(conc, secs, 1)))
        variants.append((f"etcd conns={conc}", lambda: etcd(conc, secs, conc)))
    results = {label: [] for label, _ in variants}
    try:
        for round_number in range(rounds):
            for label, measure in variants:
                d = measure()
                ops = d["ops_per_s"]
                row = (ops, d["server_cpu_cores"] / ops * 1e6, d["client_cpu_cores"] / ops * 1e6, d["p50_ms"])
                results[label].append(row)
                print(f"round {round_number} {label:14s} {row[0]:8.0f}/s server {row[1]:6.1f} µs "
                      f"client {row[2]:5.1f} µs p50 {row[3]:.2f} ms errors {d.get('errors', 0)}", flush=True)
    finally:
        os.unlink(lua.name)
    print(f"== medians, c={conc}, {rounds} rounds of {secs} s")
    for label, rows in results.items():
        m = [statistics.median(row[i] for row in rows) for i in range(4)]
        print(f"{label:14s} {m[0]:8.0f}/s server {m[1]:6.1f} µs/op client {m[2]:5.1f} µs/op p50 {m[3]:.2f} ms")


if __name__ == "__main__":
    main()
