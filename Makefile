# The commands the README and CI use. `make help` lists them.
CARGO ?= cargo
NODES ?= 3
BASE_PORT ?= 7001
DATA_DIR ?= ./data

.PHONY: help build release cluster node test lint fmt clean-data failover sim sim-build sim-soak sim-mutants fuzz fuzz-build bench bench-tls bench-queue bench-kafka bench-long image test-cluster schemathesis

help:
	@echo "make cluster   a local $(NODES)-node cluster on 127.0.0.1:$(BASE_PORT)+ (Kafka listeners on 9092+; data in $(DATA_DIR)), first append/read, Ctrl-C stops it; TLS=1 serves HTTPS with development certificates"
	@echo "make node N=2  start node N of that cluster again on its own, in the foreground (after a kill)"
	@echo "make test      every test: unit, storage suite, black-box cluster tests (PROFILE=ci: CI's optimised build)"
	@echo "make schemathesis  property-based API tests of a live node from its /openapi.json (EXAMPLES, SEED)"
	@echo "make lint      cargo fmt --check and clippy -D warnings"
	@echo "make release   build target/release/ordo"
	@echo "make failover  leader failover time over REPS (10) kill -9s of the leader"
	@echo "make sim       deterministic simulation: SEEDS (256) seeds, or SEED=N for one seed in full"
	@echo "make sim-soak  the simulation over 10,000 seeds, with a progress line"
	@echo "make sim-mutants  each deliberate bug must be caught within 256 seeds"
	@echo "make fuzz      each cargo fuzz target (request decoding, command codec, AppendEntries wire form) for FUZZ_SECS (60) s"
	@echo "make bench     ordo's durable appends (vs etcd and NATS JetStream with PEERS_DIR), writes docs/benchmarks.md (~25 min, ~4 alone)"
	@echo "make bench-tls  the cost of TLS: ordo bench at c=16, plain vs TLS local clusters in one run"
	@echo "make bench-queue  work queues against appends: jobs/s claimed and acked by 16 workers next to appends/s at c=16, one local cluster"
	@echo "make bench-kafka  Kafka producers (confluent-kafka, acks=all, idempotent) against ordo bench over HTTP, one local cluster, records/s and latency"
	@echo "make bench-long  10 M records: throughput, RSS and disk as the log grows, tail reads; writes docs/bench-long.md"
	@echo "make image     the ordo:dev container image, built offline FROM scratch (deploy/build-image.sh)"
	@echo "make test-cluster  deploy/compose.yaml under load through leader kills, partitions, a rolling restart and a full disk; deploy/compose-tls.yaml over HTTPS through a certificate rotation (needs Docker; the disk part needs root to mount a tmpfs)"

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --bin ordo

cluster: release
	./target/release/ordo local-cluster --nodes $(NODES) --base-port $(BASE_PORT) --data-dir $(DATA_DIR) $(if $(TLS),--tls)

# One node of `make cluster` (same NODES, BASE_PORT, DATA_DIR), started
# again on its own after it was stopped or killed; the cluster keeps running.
node: release
	@test -n "$(N)" || { echo "usage: make node N=<node id>"; exit 2; }
	./target/release/ordo local-cluster --nodes $(NODES) --base-port $(BASE_PORT) --data-dir $(DATA_DIR) --node $(N) $(if $(TLS),--tls)

# nextest (on CI) runs the cluster tests one at a time (.config/nextest.toml);
# plain cargo test gets the same effect from one test thread. PROFILE=ci
# builds the tests and the binary they run with Cargo.toml's `ci` profile
# (target/ci/ordo), as .ci/run does.
PROFILE ?= dev
test:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast --cargo-profile $(PROFILE); \
	else \
		$(CARGO) test --workspace --no-fail-fast --profile $(PROFILE) -- --test-threads=1; \
	fi

# Schemathesis against one live node, from the node's own /openapi.json: no
# 5xx, documented statuses, content types and bodies (~2-3 min).
schemathesis:
	scripts/schemathesis.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf $(DATA_DIR)

# Leader failover time, measured as the peers' failover.sh measures etcd and
# NATS: REPS kills of the leader under a 500 ms-timeout writer.
REPS ?= 10
failover: release
	$(CARGO) run --release -q -p ordo-launcher --example failover -- --reps $(REPS)

# The simulation is its own cargo workspace, built with tokio_unstable (so
# turmoil can seed tokio's scheduler) into simulation/target.
SIM := cd simulation && RUSTFLAGS="--cfg tokio_unstable" $(CARGO)
SEEDS ?= 256
sim:
ifdef SEED
	$(SIM) run --release -q -- --seed $(SEED)
else
	$(SIM) test --release -q
	$(SIM) run --release -q -- --seeds $(SEEDS)
endif

# Builds what `make sim` and `make sim-mutants` run, without running it
# (.ci/run builds it beside the tests).
sim-build:
	$(SIM) test --release --no-run -q

sim-soak:
	$(SIM) run --release -q -- --seeds 10000 --progress-every 100

sim-mutants:
	$(SIM) run --release -q -- --all-mutants --seeds 256

# Each fuzz target for FUZZ_SECS seconds (cargo fuzz, fuzz/ is its own
# workspace). cargo fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the
# stable toolchain take them. No sanitizer: the code under test is safe
# Rust, where a panic (debug assertions are on) is the bug to find.
# Crashes land in fuzz/artifacts/<target>/; the corpus in fuzz/corpus/;
# fuzz/<target>.dict, if any, seeds the encoding's tokens.
FUZZ_SECS ?= 60
FUZZ_TARGETS := request_decoding command_codec append_entries_wire kafka_request
# Builds every fuzz target as `make fuzz` runs them, without running them.
fuzz-build:
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build --sanitizer none --release

fuzz:
	@for target in $(FUZZ_TARGETS); do \
		echo "== fuzz $$target for $(FUZZ_SECS) s"; \
		dict=; [ -f fuzz/$$target.dict ] && dict=-dict=$$target.dict; \
		(cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none --release $$target -- \
			-max_total_time=$(FUZZ_SECS) -print_final_stats=1 $$dict) || exit 1; \
	done

# Not a test: figures for docs/benchmarks.md, against the peers measured in
# the same run when PEERS_DIR has their scripts, else ordo alone
# (scripts/bench/run.sh; RUNS, SECS).
bench:
	scripts/bench/run.sh

# The cost of TLS: ordo bench at c=16, plain against TLS local clusters,
# alternating in one run (ROUNDS=5 of SECS=10).
bench-tls: release
	scripts/bench/tls.sh

# Work queues against appends: 16 workers claiming and acking jobs next to
# 16 appending clients, alternating on one local cluster (ROUNDS=3 of
# SECS=10; JOBS=50000 per queue round, BATCH=1 job per claim).
bench-queue: release
	scripts/bench/queue.sh

# Kafka producers against the HTTP API on one local cluster whose nodes
# listen for Kafka clients too: `ordo bench` at c=16, one confluent-kafka
# producer with default batching, 16 producers with one record per request,
# alternating (ROUNDS=3 of SECS=10; needs pip's confluent-kafka). A thin-LTO
# release build, which builds much sooner and serves both paths alike: the
# figures compare the two within one run. It replaces target/release/ordo
# (a later `make release` builds the fat-LTO one again); ORDO_BIN=path skips
# the build.
bench-kafka:
	$(if $(ORDO_BIN),,CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 $(CARGO) build --release --bin ordo)
	scripts/bench/kafka.sh

# 10 M records appended in batches of 100, throughput and each node's RSS and
# disk sampled along the way, then read back from a follower; writes
# docs/bench-long.md (~10 min). RECORDS overrides the count.
RECORDS ?= 10000000
bench-long: release
	python3 scripts/bench/long.py --records $(RECORDS)

# The container image, from the release binary and its shared libraries,
# with no base image to pull (IMAGE=ordo:dev).
image:
	deploy/build-image.sh

# Fault tests of the compose cluster in containers: leader killed, follower
# and leader cut off, rolling restart, each under load and checked
# (FAULT_REPS runs of each leader fault); then the TLS cluster
# (compose-tls.yaml): HTTPS through every node from Python and the release
# binary `image` built, plain HTTP refused, a node certificate rotated
# under load (~15 s); then one node's disk (a tmpfs the test mounts, so it
# is skipped, saying why, where it cannot mount) filled past its reserve
# and up to ENOSPC, and given space again (~1 min). Removes everything
# they made.
FAULT_REPS ?= 3
test-cluster: image
	python3 deploy/tests/faults.py --reps $(FAULT_REPS)
	python3 deploy/tests/tls.py
	python3 deploy/tests/disk_full.py
