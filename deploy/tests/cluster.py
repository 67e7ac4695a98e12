"""A compose cluster of ordo containers under a project name of its own, and
the faults the tests put it through: kill, start, restart, network
disconnect and reconnect. Every docker call and every wait is bounded in
time; `down()` removes every container, network and volume of the project.
The nodes are reached over plain HTTP, or over HTTPS once the cluster's CA
is known (`use_ca`). Python 3.11 standard library only.
"""

import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections import namedtuple

# Most seconds any one docker or compose command may take.
DOCKER_TIMEOUT_S = 120


def compose_command():
    """`docker compose` (v2) where it exists, else `docker-compose` (v1)."""
    try:
        subprocess.run(["docker", "compose", "version"], check=True,
                       capture_output=True, timeout=30)
        return ["docker", "compose"]
    except (subprocess.CalledProcessError, FileNotFoundError):
        return ["docker-compose"]


def run(args, timeout=DOCKER_TIMEOUT_S, env=None, check=True):
    """Runs a command; its stdout, stripped. Raises with its stderr on failure."""
    done = subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: "
                           f"{done.stderr.strip()}")
    return done.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# An HTTP answer: status, parsed JSON body (or None), and the node id in its
# `ordo-leader` header (None if absent), the leader as the answering node saw it.
Answer = namedtuple("Answer", "status body leader")


def connection(addr, timeout_s, ssl_context=None):
    """An HTTP connection to `addr` (host:port), HTTPS with `ssl_context`."""
    if ssl_context is None:
        return http.client.HTTPConnection(addr, timeout=timeout_s)
    return http.client.HTTPSConnection(addr, timeout=timeout_s, context=ssl_context)


def http_json(addr, method, path, body=None, timeout_s=3.0, ssl_context=None):
    """One HTTP request (HTTPS with `ssl_context`) and its Answer. Raises
    OSError (including timeouts and failed TLS handshakes) when there is no
    answer."""
    conn = connection(addr, timeout_s, ssl_context)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if payload else {}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        leader = response.getheader("ordo-leader")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Answer(response.status, parsed,
                      int(leader) if leader and leader.isdigit() else None)
    except http.client.HTTPException as e:
        raise OSError(f"bad HTTP answer from {addr}: {e!r}") from e
    finally:
        conn.close()


def wait_until(what, predicate, timeout_s, interval_s=0.2):
    """Polls predicate() until it returns a truthy value, which it returns;
    raises TimeoutError naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


class ComposeCluster:
    """Nodes 1..n are services ordo-1..ordo-n of the compose file, their APIs
    published on free ports of 127.0.0.1 (ORDO_PORT_i), with `node_env`
    added to every node's environment (by an override file given after
    the compose file). A node on 0.0.0.0 starts only with TLS or a cluster
    secret (or ORDO_INSECURE=1): `up` passes the compose files a fresh
    ORDO_CLUSTER_SECRET unless the caller's environment has one."""

    def __init__(self, compose_file, project, nodes, image, node_env, extra_files=()):
        self.compose = compose_command()
        self.project = project
        self.nodes = list(range(1, nodes + 1))
        self.tmp = tempfile.mkdtemp(prefix=f"{project}-")
        override = os.path.join(self.tmp, "override.yaml")
        with open(override, "w") as f:  # JSON is YAML
            json.dump({"services": {f"ordo-{n}": {"environment": node_env}
                                    for n in self.nodes}}, f)
        # extra_files (other overrides) go between the compose file and ours.
        self.files = ["-f", compose_file]
        for extra in extra_files:
            self.files += ["-f", extra]
        self.files += ["-f", override]
        self.ports = {n: free_port() for n in self.nodes}
        # The compose command's environment: what the files interpolate
        # (${...}) and pass through; a test may change it before recreate().
        self.env = dict(os.environ, ORDO_IMAGE=image)
        self.env.setdefault("ORDO_CLUSTER_SECRET", secrets.token_hex(32))
        self.env.update({f"ORDO_PORT_{n}": str(p) for n, p in self.ports.items()})
        self.containers = {}
        self.network = None
        # Set by use_ca: the nodes are then reached over HTTPS.
        self.ca_file = None
        self.ssl_context = None

    def _compose(self, *args, timeout=DOCKER_TIMEOUT_S):
        return run([*self.compose, "-p", self.project, *self.files, *args],
                   timeout=timeout, env=self.env)

    def addr(self, node):
        return f"127.0.0.1:{self.ports[node]}"

    def url(self, node):
        """The node's base URL, https once use_ca was called."""
        return f"{'https' if self.ssl_context else 'http'}://{self.addr(node)}"

    def use_ca(self, ca_file):
        """From now on, reach the nodes over HTTPS, trusting the CA in
        ca_file (PEM) alone; the nodes' certificates must list 127.0.0.1."""
        self.ca_file = ca_file
        self.ssl_context = ssl.create_default_context(cafile=ca_file)

    def request(self, node, method, path, body=None, timeout_s=3.0):
        """http_json to the node, over HTTPS after use_ca."""
        return http_json(self.addr(node), method, path, body, timeout_s, self.ssl_context)

    def run_service(self, service, *args, timeout=DOCKER_TIMEOUT_S):
        """`run --rm SERVICE ARGS`: a one-shot container of the service (its
        stdout)."""
        return self._compose("run", "--rm", service, *args, timeout=timeout)

    def copy_out(self, node, path, dest):
        """`docker cp` of a file in the node's container (a volume's too) to
        dest on this machine."""
        run(["docker", "cp", f"{self.containers[node]}:{path}", dest])

    def up(self):
        self._compose("up", "-d")
        for n in self.nodes:
            self.containers[n] = self._compose("ps", "-q", f"ordo-{n}")
        self.network = run(["docker", "network", "ls", "-q", "--filter",
                            f"label=com.docker.compose.project={self.project}"])
        if not self.network or "\n" in self.network:
            raise RuntimeError(f"expected one network for {self.project}, got {self.network!r}")

    def down(self):
        """Removes the project's containers, network and volumes; then makes
        sure by label, in case compose itself failed half way."""
        try:
            self._compose("down", "-v", "--remove-orphans", "--timeout", "5")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"compose down failed ({e}); removing by label")
        label = f"label=com.docker.compose.project={self.project}"
        for kind, ls, rm in (("container", ["docker", "ps", "-aq"], ["docker", "rm", "-fv"]),
                             ("network", ["docker", "network", "ls", "-q"], ["docker", "network", "rm"]),
                             ("volume", ["docker", "volume", "ls", "-q"], ["docker", "volume", "rm", "-f"])):
            left = run([*ls, "--filter", label], check=False).split()
            if left:
                print(f"removing {len(left)} leftover {kind}(s) of {self.project}")
                run([*rm, *left], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self, tail=40):
        return self._compose("logs", "--no-color", "--tail", str(tail), timeout=60)

    def health(self, node):
        """Docker's view of the node's health check: starting, healthy, unhealthy."""
        return run(["docker", "inspect", "--format", "{{.State.Health.Status}}",
                    self.containers[node]])

    # Faults. Each acts on the node's container, which keeps its id (and
    # its volume) through kill, start and restart.
    def kill(self, node):
        run(["docker", "kill", self.containers[node]])

    def start(self, node):
        run(["docker", "start", self.containers[node]])

    def restart(self, node):
        """A graceful restart: SIGTERM, up to 20 s to stop, start."""
        run(["docker", "restart", "--time", "20", self.containers[node]])

    def stop(self, node):
        """A graceful stop, as `docker compose stop` does (SIGTERM, up to 20 s)."""
        run(["docker", "stop", "--time", "20", self.containers[node]])

    def recreate(self, node):
        """`up -d --force-recreate` of the node's service: a new container
        from the compose files and self.env as they are now (another
        volume, other settings), on the same network under the same name."""
        self._compose("up", "-d", "--no-deps", "--force-recreate", f"ordo-{node}")
        self.containers[node] = self._compose("ps", "-q", f"ordo-{node}")

    def container_state(self, node):
        """(status, exit code, restart count) of the node's container, as
        docker inspect has them: status is running, restarting, exited, ..."""
        out = run(["docker", "inspect", "--format",
                   "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}",
                   self.containers[node]])
        status, code, restarts = out.split()
        return status, int(code), int(restarts)

    def exit_codes(self, node, since):
        """The exit status of each time the node's container stopped since
        `since` (a Unix time), oldest first, from docker's events."""
        out = run(["docker", "events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                   "--filter", f"container={self.containers[node]}", "--filter", "event=die",
                   "--format", "{{.Actor.Attributes.exitCode}}"], timeout=30)
        return [int(code) for code in out.split()]

    def container_logs(self, node, since=None):
        """The node's log lines (stderr and stdout) since a Unix time."""
        args = ["docker", "logs"]
        if since is not None:
            args += ["--since", f"{since:.3f}"]
        done = subprocess.run([*args, self.containers[node]], capture_output=True, text=True,
                              timeout=60)
        return (done.stdout + done.stderr).splitlines()

    def exec_ordo(self, node, *args):
        """`ordo ARGS` inside the node's container (inside the network, so
        every member answers by its in-network address)."""
        return run(["docker", "exec", self.containers[node], "ordo", *args],
                   timeout=30, check=False)

    def disconnect(self, node):
        run(["docker", "network", "disconnect", self.network, self.containers[node]])

    def connect(self, node):
        # The peers reach the node by its service name: an alias that
        # compose set on the first connect, and that a plain reconnect drops.
        run(["docker", "network", "connect", "--alias", f"ordo-{node}",
             self.network, self.containers[node]])

    # What the nodes say.
    def status(self, node, timeout_s=2.0):
        """The node's GET /v1/cluster, or None if it does not answer."""
        try:
            answer = self.request(node, "GET", "/v1/cluster", timeout_s=timeout_s)
        except OSError:
            return None
        return answer.body if answer.status == 200 else None

    def readyz(self, node):
        """(status, text) of the node's GET /readyz, the text being a
        refusal's message; (None, why) when it does not answer."""
        conn = connection(self.addr(node), 2.0, self.ssl_context)
        try:
            conn.request("GET", "/readyz")
            response = conn.getresponse()
            text = response.read().decode(errors="replace").strip()
            try:  # a refusal is {"error":{"code","message"}}
                text = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            return response.status, text
        except (OSError, http.client.HTTPException) as e:
            return None, f"no answer ({e.__class__.__name__})"
        finally:
            conn.close()

    def ready(self, node):
        try:
            return self.request(node, "GET", "/readyz", timeout_s=2.0).status == 200
        except OSError:
            return False

    def leader(self, among=None):
        """The id of a node that says it is the leader, or None."""
        for n in among or self.nodes:
            status = self.status(n)
            if status and status.get("role") == "leader":
                return n
        return None

    def wait_leader(self, timeout_s=30, among=None):
        return wait_until("a leader", lambda: self.leader(among), timeout_s)

    def wait_ready(self, nodes=None, timeout_s=60):
        for n in nodes or self.nodes:
            wait_until(f"node {n} /readyz", lambda n=n: self.ready(n), timeout_s)
