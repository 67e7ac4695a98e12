#!/usr/bin/env bash
# Builds the ordo image (default tag ordo:dev) without a registry: the base is
# `scratch`, and the build context is a staging dir holding the release
# binary (stripped), the shared libraries and dynamic loader it links
# against (as `ldd` lists them), /etc/passwd and /etc/group with the ordo
# user (uid 10001), an empty data dir and an empty certificates dir (/certs,
# for compose-tls.yaml). Prints the image's size.
#
#   deploy/build-image.sh            # or: make image
#   IMAGE=ordo:test deploy/build-image.sh
#   ORDO_BIN=path/to/ordo deploy/build-image.sh   # skip cargo, use this binary
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-ordo:dev}
target_dir=${CARGO_TARGET_DIR:-target}
if [ -z "${ORDO_BIN:-}" ]; then
  ${CARGO:-cargo} build --release --bin ordo
  ORDO_BIN=$target_dir/release/ordo
fi

mkdir -p "$target_dir"
stage=$(mktemp -d "$target_dir/image-staging.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc" "$stage/data" "$stage/certs"

# Stripping drops the symbol table (panics still print their message): ~4 MiB less.
if command -v strip >/dev/null 2>&1; then
  strip -o "$root/usr/local/bin/ordo" "$ORDO_BIN"
else
  cp "$ORDO_BIN" "$root/usr/local/bin/ordo"
fi

# Every library `ldd` resolves, and the loader, at the path the binary
# asks for (cp -L: the file itself, not the distribution's symlink).
libs=$(ldd "$ORDO_BIN" | grep -o '/[^ ]*' | sort -u)
if [ -z "$libs" ]; then
  echo "ldd listed no libraries for $ORDO_BIN" >&2
  exit 1
fi
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
ordo:x:10001:10001:ordo:/var/lib/ordo:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
ordo:x:10001:
GROUP
# Peer names resolve from /etc/hosts, then DNS (both built into glibc >= 2.34).
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
# COPY of an empty directory creates nothing; one file keeps each.
touch "$stage/data/.keep" "$stage/certs/.keep"

# Without the buildx plugin the docker CLI refuses BuildKit; the classic
# builder needs nothing this Dockerfile does not have.
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi
previous=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
# The classic builder's deprecation notice is noise; its output is shown on failure.
if ! out=$(docker build --quiet --file deploy/Dockerfile --tag "$image" \
  --label "org.opencontainers.image.revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$stage" 2>&1); then
  echo "$out" >&2
  exit 1
fi
# A rebuild from another commit has another revision label, so a new image:
# drop the one it replaced (unless a container still uses it).
current=$(docker image inspect --format '{{.Id}}' "$image")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(docker image inspect --format '{{.Size}}' "$image")
echo "built $image: $((size / 1024 / 1024)) MiB ($size bytes)"
