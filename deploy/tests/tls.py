#!/usr/bin/env python3
"""The TLS compose cluster (deploy/compose-tls.yaml) in containers (`make test-cluster`).

Brings the cluster up (the first `up` makes the development CA in the
project's `certs` volume, each `up` issues the node certificates)
and waits for Docker's health check, which is `ordo probe` over HTTPS
verified against the CA. Copies the CA out of a node (`docker cp`) and then:
  1. every node's /v1/cluster says TLS is on, with peer certificates and
     no client certificates;
  2. plain HTTP to each node's port gets no answer, and the node stays
     ready and healthy;
  3. records appended through every node read back through every node,
     over HTTPS from Python's ssl and from the host's `ordo` CLI (--ca),
     and a CA that did not sign the nodes is refused by both (the CLI
     part needs target/release/ordo, which `make image` builds, or
     ORDO_BIN; without it that part is skipped, saying so);
  4. node 2's certificate is replaced in the volume (`run --rm certs
     create-node --force`) under load: node 2 serves the new one within a
     few seconds and logs "TLS certificate reloaded" with its SHA-256,
     and no append fails; then node 2 is made leader and node 1 restarted,
     so fresh peer connections in both directions (node 2 as a client of
     node 1, node 1 as a client of node 2) verify the new certificate;
     node 1 catches up and every node holds the same records.
Every container, network and volume it made is removed at the end, also
on failure, Ctrl-C or SIGTERM.
"""

import argparse
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from cluster import ComposeCluster, http_json, wait_until
from workload import Load, check_converged

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COMPOSE_FILE = os.path.join(os.path.dirname(HERE), "compose-tls.yaml")
# Where each node's certificate lives in the `certs` volume, and the names it
# lists (as compose-tls.yaml's node-certs-N services issue it).
CERTS_DIR = "/certs"
# How long a replaced certificate may take to be served: the node checks
# its files every second.
ROTATION_DEADLINE_S = 10
STARTED = time.monotonic()


def step(message):
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def ordo_binary():
    """The host's ordo binary: ORDO_BIN, else the release build `make image`
    made (in CARGO_TARGET_DIR or target/); None if there is none."""
    candidates = [os.environ.get("ORDO_BIN"),
                  os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")),
                               "release", "ordo")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def ordo(binary, *args, check=True):
    """Runs the host's ordo; (exit status, stdout, stderr)."""
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30,
                          env={k: v for k, v in os.environ.items() if not k.startswith("ORDO_")})
    if check and done.returncode != 0:
        raise AssertionError(f"ordo {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.returncode, done.stdout, done.stderr


def served_certificate_sha256(cluster, node, context=None):
    """SHA-256 of the leaf certificate the node serves now (a new handshake)."""
    context = context or cluster.ssl_context
    with socket.create_connection(("127.0.0.1", cluster.ports[node]), timeout=3) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def check_protections(cluster):
    expected = {"tls": True, "client_auth": "none", "peer_certificates": True,
                "cluster_secret": False, "principals": False, "insecure": False}
    for n in cluster.nodes:
        status = wait_until(f"node {n} /v1/cluster over HTTPS", lambda n=n: cluster.status(n), 10)
        if status.get("protections") != expected:
            raise AssertionError(f"node {n} protections {status.get('protections')}, "
                                 f"expected {expected}")
    step(f"1. every node's protections: {expected}")


def check_plain_http_refused(cluster):
    for n in cluster.nodes:
        try:
            answer = http_json(cluster.addr(n), "GET", "/v1/cluster", timeout_s=3)
        except OSError as e:
            why = str(e)[:120]
        else:
            raise AssertionError(f"node {n} answered plain HTTP: {answer.status}")
        step(f"2. node {n}: plain HTTP gets no answer ({why})")
    for n in cluster.nodes:
        wait_until(f"node {n} ready over HTTPS", lambda n=n: cluster.ready(n), 10)
        health = cluster.health(n)
        if health != "healthy":
            raise AssertionError(f"node {n} is {health} after plain HTTP")
    step("2. every node still ready and healthy")


def check_round_trip(cluster, binary, tmp):
    """Appends through every node and reads back through every node, from
    Python and from the CLI; a stranger CA is refused by both."""
    topic = "tls-round-trip"
    path = f"/v1/topics/{topic}/records"
    sent = []
    for n in cluster.nodes:
        value = f"python-via-{n}"
        answer = cluster.request(n, "POST", path, {"records": [{"value": value}]}, timeout_s=10)
        if answer.status != 200:
            raise AssertionError(f"append through node {n}: {answer.status} {answer.body}")
        sent.append(value)
    if binary:
        for n in cluster.nodes:
            value = f"cli-via-{n}"
            ordo(binary, "append", topic, value, "--addr", cluster.url(n), "--ca", cluster.ca_file)
            sent.append(value)
    for n in cluster.nodes:
        answer = cluster.request(n, "GET", f"{path}?from=0&limit=100", timeout_s=10)
        got = [r["value"] for r in answer.body["records"]] if answer.status == 200 else answer
        if got != sent:
            raise AssertionError(f"read through node {n}: {got}, expected {sent}")
        if binary:
            _, out, _ = ordo(binary, "read", topic, "--addr", cluster.url(n), "--ca", cluster.ca_file)
            if out.split() != sent:
                raise AssertionError(f"ordo read through node {n}: {out.split()}, expected {sent}")
    step(f"3. {len(sent)} records appended through every node read back through every node "
         f"({'Python ssl and the ordo CLI' if binary else 'Python ssl'})")
    if not binary:
        step("3. skipped the CLI part: no target/release/ordo (run `make image`, or set ORDO_BIN)")
        return
    # A CA of its own, that signed none of the nodes' certificates.
    stranger = os.path.join(tmp, "stranger")
    ordo(binary, "certs", "create-ca", "--dir", stranger)
    stranger_ca = os.path.join(stranger, "ca.crt")
    try:
        served_certificate_sha256(cluster, 1, ssl.create_default_context(cafile=stranger_ca))
        raise AssertionError("Python trusted node 1 with a CA that did not sign it")
    except ssl.SSLCertVerificationError:
        pass
    code, _, err = ordo(binary, "read", topic, "--addr", cluster.url(1), "--ca", stranger_ca,
                        "--timeout-ms", "3000", check=False)
    if code == 0:
        raise AssertionError("ordo read trusted node 1 with a CA that did not sign it")
    ordo(binary, "probe", "--addr", cluster.url(1), "--ca", cluster.ca_file)
    code, _, probe_err = ordo(binary, "probe", "--addr", cluster.url(1), "--ca", stranger_ca,
                              check=False)
    if code == 0:
        raise AssertionError("ordo probe trusted node 1 with a CA that did not sign it")
    step("3. a CA that did not sign the nodes: refused by Python, `ordo read` "
         f"({err.strip().splitlines()[-1][:160]}) and `ordo probe` ({probe_err.strip()[:160]})")


def transfer_leadership(cluster, target):
    if cluster.wait_leader() == target:
        return
    answer = cluster.request(target, "POST", "/v1/cluster/leader", {"id": target}, timeout_s=15)
    if answer.status != 200:
        raise AssertionError(f"leadership transfer to {target}: {answer.status} {answer.body}")
    wait_until(f"node {target} leading", lambda: cluster.leader() == target, 15)


def check_rotation(cluster):
    node = 2
    load = Load(cluster, "tls-rotation", writers=2, interval_s=0.02)
    load.start()
    try:
        wait_until("first appends", lambda: load.acks_since(0) >= 20, 30)
        before = served_certificate_sha256(cluster, node)
        failures_before = load.failures
        since = time.time()
        asked = time.monotonic()
        cluster.run_service("certs", "create-node", "--dir", CERTS_DIR, "--id", str(node),
                            "--host", f"ordo-{node}", "--host", "localhost", "--host", "127.0.0.1",
                            "--force")
        written = time.monotonic()
        after = wait_until(f"node {node} serving its new certificate",
                           lambda: (sha := served_certificate_sha256(cluster, node)) != before and sha,
                           ROTATION_DEADLINE_S, 0.1)
        step(f"4. node {node} serves its new certificate {time.monotonic() - asked:.1f} s after "
             f"`run --rm certs create-node` started (the one-shot container takes about a "
             f"second of that) ({before[:12]}... -> {after[:12]}...)")
        reloaded = [line for line in cluster.container_logs(node, since=since)
                    if "TLS certificate reloaded" in line and f"sha256={after}" in line]
        if not reloaded:
            raise AssertionError(f"node {node} did not log 'TLS certificate reloaded' with sha256={after}")
        acks_before = load.acks_since(written)
        wait_until("appends after the rotation", lambda: load.acks_since(written) >= acks_before + 20, 10)
        if load.failures != failures_before:
            raise AssertionError(f"{load.failures - failures_before} appends failed during the "
                                 f"rotation: {dict(load.refusals)}")
        step(f"4. logged 'TLS certificate reloaded'; {load.acks_since(written)} appends "
             f"acknowledged since, none failed")

        transfer_leadership(cluster, node)
        cluster.restart(1)
        cluster.wait_ready([1])
        # Forwarded by the new process to the leader: a connection of its
        # own to node 2, which verifies node 2's new certificate.
        answer = cluster.request(1, "POST", "/v1/topics/tls-forwarded/records",
                                 {"records": [{"value": "via-1"}]}, timeout_s=10)
        if answer.status != 200 or answer.leader != node:
            raise AssertionError(f"append through node 1 to leader {node}: {answer}")
        load.pause()
        records, acked, unacked = check_converged(cluster, load)
        step(f"4. node {node} leading, node 1 restarted and caught up through fresh connections: "
             f"{records} records on every node, all {acked} acknowledged appends at their "
             f"offsets ({unacked} unacknowledged ones landed)")
    finally:
        load.stop()


def interrupt(signum, frame):
    """Ctrl-C, or SIGTERM (a CI timeout, say): stop and clean up."""
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=os.environ.get("ORDO_IMAGE", "ordo:dev"))
    args = parser.parse_args()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    project = f"ordotls{os.getpid()}"
    cluster = ComposeCluster(COMPOSE_FILE, project, 3, args.image, {})
    binary = ordo_binary()
    failed = True
    with tempfile.TemporaryDirectory(prefix=f"{project}-") as tmp:
        try:
            step(f"compose project {project}: 3 TLS nodes of {args.image} on "
                 + ", ".join(cluster.addr(n) for n in cluster.nodes))
            cluster.up()
            wait_until("every container healthy (ordo probe over HTTPS)",
                       lambda: all(cluster.health(n) == "healthy" for n in cluster.nodes), 90, 1)
            ca_file = os.path.join(tmp, "ca.crt")
            cluster.copy_out(1, f"{CERTS_DIR}/ca.crt", ca_file)
            cluster.use_ca(ca_file)
            step(f"all healthy (HTTPS health check); CA copied out; leader {cluster.wait_leader()}")

            check_protections(cluster)
            check_plain_http_refused(cluster)
            check_round_trip(cluster, binary, tmp)
            check_rotation(cluster)
            print(f"\nPASS in {time.monotonic() - STARTED:.0f} s")
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
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            step(f"removing compose project {project}")
            cluster.down()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
