# The local release cluster the one-run benches (queue.sh, tls.sh,
# kafka.sh) load: sourced, not run. It gives them
#
#   ORDO                  the binary (ORDO_BIN or ORDO, else the release build)
#   work                  a temporary directory, deleted on exit
#   cluster_start DIR PORT [FLAGS...]
#                         `ordo local-cluster` on 127.0.0.1:PORT.. with its
#                         data and logs under DIR (node logs in DIR/n*.log),
#                         waited for until its first append was read back;
#                         no Kafka listeners unless FLAGS has --kafka-base-port
#   cluster_addrs SCHEME PORT   the three nodes' addresses for `ordo bench`
#   cluster_stop          stops it (Ctrl-C, as a user would)
#   free_ports COUNT FROM       the first of COUNT consecutive ports, FROM or
#                         above, that nothing on 127.0.0.1 listens on
#
# and stops the cluster on exit, however the script ends.
ORDO=${ORDO_BIN:-${ORDO:-${CARGO_TARGET_DIR:-target}/release/ordo}}
work=$(mktemp -d "${TMPDIR:-/tmp}/ordo-bench-$(basename "$0" .sh).XXXXXX")
cluster_launcher=""

cluster_stop() {
  if [[ -n "$cluster_launcher" ]] && kill -0 "$cluster_launcher" 2>/dev/null; then
    kill -INT "$cluster_launcher"; wait "$cluster_launcher" 2>/dev/null || true
  fi
  cluster_launcher=""
}

cluster_cleanup() {
  cluster_stop
  rm -rf "$work"
}
trap cluster_cleanup EXIT

cluster_start() {
  local dir=$1 port=$2; shift 2
  local kafka=(--kafka-base-port 0)
  [[ " $* " == *" --kafka-base-port "* ]] && kafka=()
  mkdir -p "$dir"
  "$ORDO" local-cluster --base-port "$port" --data-dir "$dir" --log-files "${kafka[@]}" "$@" \
    >"$dir/launcher.log" 2>&1 &
  cluster_launcher=$!
  for _ in $(seq 600); do grep -q "read back" "$dir/launcher.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "read back" "$dir/launcher.log" || {
    echo "the cluster ($ORDO local-cluster $*) did not come up:" >&2
    cat "$dir/launcher.log" >&2
    exit 1
  }
}

cluster_addrs() {
  local scheme=$1 port=$2
  echo "$scheme://127.0.0.1:$port,$scheme://127.0.0.1:$((port + 1)),$scheme://127.0.0.1:$((port + 2))"
}

free_ports() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
count, start = int(sys.argv[1]), int(sys.argv[2])
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
for base in range(start, min(start + 1000, 65536 - count)):
    if all(free(base + i) for i in range(count)):
        print(base)
        sys.exit(0)
sys.exit(f"no {count} free consecutive ports from {start}")
PY
}
