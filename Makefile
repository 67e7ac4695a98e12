# The commands the README and CI use. `make help` lists them.
CARGO ?= cargo
NODES ?= 3
BASE_PORT ?= 7001
DATA_DIR ?= ./data

.PHONY: help build release cluster test lint fmt clean-data failover

help:
	@echo "make cluster   a local $(NODES)-node cluster on 127.0.0.1:$(BASE_PORT)+ (data in $(DATA_DIR)), first append/read, Ctrl-C stops it"
	@echo "make test      every test: unit, storage suite, black-box cluster tests"
	@echo "make lint      cargo fmt --check and clippy -D warnings"
	@echo "make release   build target/release/ordo"
	@echo "make failover  leader failover time over REPS (10) kill -9s of the leader"

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --bin ordo

cluster: release
	./target/release/ordo local-cluster --nodes $(NODES) --base-port $(BASE_PORT) --data-dir $(DATA_DIR)

# nextest (on CI) runs the cluster tests one at a time (.config/nextest.toml);
# plain cargo test gets the same effect from one test thread.
test:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast -- --test-threads=1; \
	fi

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf $(DATA_DIR)

# Leader failover time, measured as ../shared/peers/failover.sh measures etcd
# and NATS: REPS kills of the leader under a 500 ms-timeout writer.
REPS ?= 10
failover: release
	$(CARGO) run --release -q -p ordo-launcher --example failover -- --reps $(REPS)
