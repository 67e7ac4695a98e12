//! The same seed gives the same run: two fresh processes running a seed
//! produce the same trace hash (history, faults, every node's Raft role and
//! term changes, final logs). `ordo-sim --determinism` runs the seed in two
//! child processes and compares their hashes.

use std::process::Command;

fn determinism(seed: u64) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ordo-sim"))
        .args(["--determinism", &seed.to_string()])
        .output()
        .expect("running ordo-sim");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_same_seed_gives_the_same_trace_twice() {
    // Seeds of different scenarios: a partition, crashes and restarts,
    // message loss and latency, a node down for good, a full disk, failed
    // fsyncs (with the nodes' supervised restarts).
    for seed in [8, 4242, 3, 5, 14, 15] {
        let (same, out) = determinism(seed);
        assert!(same, "seed {seed} is not deterministic:\n{out}");
        assert!(
            out.contains(" ops ("),
            "seed {seed} ran no operations:\n{out}"
        );
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let hash = |seed: u64| {
        let (_, out) = determinism(seed);
        out.lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
            .expect("a result line")
    };
    assert_ne!(hash(7), hash(8));
}
