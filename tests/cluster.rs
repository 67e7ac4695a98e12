//! Black-box tests of ordo: real `ordo serve` processes on loopback, started
//! by the one launcher, driven through the HTTP API the way clients and
//! faults would. Each test checks one guarantee of DESIGN.md §4 (or the API
//! contract of §3) and starts its own 3-node cluster; nextest runs them one
//! at a time (`.config/nextest.toml`), since two clusters on two cores starve
//! each other's heartbeats.
//!
//! - `support`: the cluster harness, bounded waits, whole-log reads.
//! - `ordering`: one total order of offsets, the same log on every node.
//! - `conditions`: conditional appends and idempotent producers, across a
//!   leader crash.
//! - `cleanup`: compaction and retention, on demand and in the background,
//!   the same on every node; 410 below the start; a snapshot rebuild.
//! - `positions`: consumer positions, compare-and-set, surviving failover.
//! - `failover`: a leader crash under load loses nothing and heals fast.
//! - `membership`: growing 3 to 5 and shrinking back under load (removing
//!   the leader too) loses nothing; fragile changes are refused; leadership
//!   transfer.
//! - `restart`: crashes and restarts of all nodes or of one follower.
//! - `tailing`: long-poll, read-your-writes, NDJSON and SSE streams,
//!   `ordo tail` in a pipe and as a consumer group.
//! - `topics`: topic configs and deletes through any node, across a leader
//!   crash; the search by time; bad topic requests.
//! - `operations`: the `ordo-leader` header, `/readyz`, an `ordo bench` smoke run.
//! - `backup`: a backup restored into a new cluster serves the same log and
//!   goes on from its end.
//! - `metrics`: `/metrics` on the leader and a follower shows every metric
//!   `docs/operations.md` lists, with values that fit what the test did.
//! - `bad_input`: malformed requests get clear 4xx refusals, append nothing.
//! - `garbage`: no request, however malformed, can crash a node.
//! - `limits`: slow clients are cut off, and the topics, stream and
//!   in-flight caps refuse the excess while the rest is served.
//! - `disk_faults`: a node whose small disk fills is out of the way at
//!   once, exits for its supervisor and comes back whole once given space;
//!   the free-space reserve refuses appends with 507 before the disk fills.
//! - `events`: the whole cluster through one node, as the console sees
//!   it: every member's own view (a killed leader unreachable) and the
//!   members' events (a survivor sees the new leader elected).
//! - `examples`: the runnable examples in `examples/`, through their shared code.
//! - `queue_cli`: `ordo work` running a command per job (acks, nacks, dead
//!   letters after the last delivery, SIGTERM) and `ordo queues`.
//! - `auth`: the cluster secret on `/raft/*` and the API token on `/v1/*`.
//! - `cli`: the `ordo` CLI in pipes that close early, against addresses
//!   where nothing listens, its flag conventions and import summary, and
//!   `ordo local-cluster` with its nodes killed and one started again.
//! - `logs`: a dead peer costs a few log lines in words, not one per Raft
//!   message; no colour codes in a log file; JSON lines on request.
//! - `quorum`: a node cut off from its quorum is not ready, says so in
//!   `/v1/cluster`, and its 503s name the voters it reaches; it recovers.
//! - `tls`: a TLS cluster serves HTTPS only, through every node; plain HTTP,
//!   garbage, other CAs' clients and nodes and client certificates on
//!   `/raft/*` get nowhere; a rotated certificate is served within seconds.
//! - `acl_file`: the ACL file a test cluster starts with, replaced on disk;
//!   raw requests as a principal.
//! - `rights`: principals' rights by every route and through any node; an
//!   ACL file replaced on disk; a client certificate naming its principal.
//! - `leaks`: no token, secret or private key line in any log or answer.
//! - `queues`: work queues with workers on every node across a leader
//!   crash (every job acked once or dead-lettered, never two live leases on
//!   one job), redelivery after a lease, per-key order, restarts;
//!   `queues_bad_input`: bad queue requests. `queue_workers` holds the
//!   workers and their journal, `queue_checks` the pure checks over it,
//!   `queue_support` the single calls and reads of a queue.
//! - `kafka_kcat`, `kafka_python`, `kafka_mixed`: unmodified Kafka clients
//!   (kcat, confluent-kafka, kafka-python) against the nodes' Kafka
//!   listeners: order, a leader kill under an idempotent producer, a
//!   consumer group's takeover, seek by time, and the same records over
//!   HTTP and Kafka. `kafka_support` runs the clients (`tests/kafka/*.py`);
//!   `kafka_serve`: the Kafka flags' refusals; `kafka_security`: Kafka over
//!   the node's TLS, SASL/PLAIN with its token.
//! - `console`: the web console at `/ui` in a real headless Chromium
//!   (`tests/console/console_test.py`, Selenium): every page against the
//!   API, the live tail, the append form, tokens and rights, 1,000 topics,
//!   a leader's kill.

#[path = "cluster/acl_file.rs"]
mod acl_file;
#[path = "cluster/auth.rs"]
mod auth;
#[path = "cluster/backup.rs"]
mod backup;
#[path = "cluster/bad_input.rs"]
mod bad_input;
#[path = "cluster/cleanup.rs"]
mod cleanup;
#[path = "cluster/cli.rs"]
mod cli;
#[path = "cluster/conditions.rs"]
mod conditions;
#[path = "cluster/console.rs"]
mod console;
#[path = "cluster/disk_faults.rs"]
mod disk_faults;
#[path = "cluster/events.rs"]
mod events;
#[path = "cluster/examples.rs"]
mod examples;
#[path = "cluster/failover.rs"]
mod failover;
#[path = "cluster/garbage.rs"]
mod garbage;
#[path = "cluster/history.rs"]
mod history;
#[path = "cluster/kafka_kcat.rs"]
mod kafka_kcat;
#[path = "cluster/kafka_mixed.rs"]
mod kafka_mixed;
#[path = "cluster/kafka_python.rs"]
mod kafka_python;
#[path = "cluster/kafka_security.rs"]
mod kafka_security;
#[path = "cluster/kafka_serve.rs"]
mod kafka_serve;
#[path = "cluster/kafka_support.rs"]
mod kafka_support;
#[path = "cluster/leaks.rs"]
mod leaks;
#[path = "cluster/limits.rs"]
mod limits;
#[path = "cluster/logs.rs"]
mod logs;
#[path = "cluster/membership.rs"]
mod membership;
#[path = "cluster/metrics.rs"]
mod metrics;
#[path = "cluster/operations.rs"]
mod operations;
#[path = "cluster/ordering.rs"]
mod ordering;
#[path = "cluster/positions.rs"]
mod positions;
#[path = "cluster/queue_checks.rs"]
mod queue_checks;
#[path = "cluster/queue_cli.rs"]
mod queue_cli;
#[path = "cluster/queue_support.rs"]
mod queue_support;
#[path = "cluster/queue_workers.rs"]
mod queue_workers;
#[path = "cluster/queues.rs"]
mod queues;
#[path = "cluster/queues_bad_input.rs"]
mod queues_bad_input;
#[path = "cluster/quorum.rs"]
mod quorum;
#[path = "cluster/restart.rs"]
mod restart;
#[path = "cluster/rights.rs"]
mod rights;
#[path = "cluster/support.rs"]
mod support;
#[path = "cluster/tailing.rs"]
mod tailing;
#[path = "cluster/tls.rs"]
mod tls;
#[path = "cluster/topics.rs"]
mod topics;
