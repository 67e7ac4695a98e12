//! `ordo-sim`: runs the simulation over seeds and reports.
//!
//!   ordo-sim --seeds 256            seeds 0..256, one line each, failures in full
//!   ordo-sim --seed 4242            one seed, with its schedule and history summary
//!   ordo-sim --seed 4242 --ops      the same, and every operation of it
//!   ordo-sim --mutant early-offsets its bug switched on: passes only if caught
//!   ordo-sim --all-mutants          every mutant in turn
//!   ordo-sim --determinism 4242     runs the seed twice, compares trace hashes
//!
//! Built by `make sim` with RUSTFLAGS="--cfg tokio_unstable" so turmoil seeds
//! tokio's scheduler too; `make sim SEED=N` reruns exactly one seed.
//!
//! Every seed runs in a fresh child process. A seed is reproducible from a
//! fresh process, not after other runs in the same one: tokio numbers tasks
//! with a process-wide counter, and the order in which a crashed node's tasks
//! (and so its sockets) are dropped follows those numbers; each dropped socket
//! sends a message through the simulated network, which draws from the seeded
//! RNG. Fresh processes make every run start from the same counter.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use clap::Parser;
use ordo_simulation::checker::summary;
use ordo_simulation::run::{run, Mutant, RunReport};
use ordo_simulation::schedule::{Scenario, Schedule};

#[derive(Parser)]
#[command(about = "Deterministic simulation of an ordo cluster")]
struct Args {
    /// Run exactly this seed and print it in full.
    #[arg(long)]
    seed: Option<u64>,
    /// How many seeds to run, from --start.
    #[arg(long, default_value_t = 256)]
    seeds: u64,
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Switch this bug on; the run passes only if the checker catches it
    /// within --seeds seeds.
    #[arg(long)]
    mutant: Option<String>,
    /// Every mutant in turn, each within --seeds seeds.
    #[arg(long)]
    all_mutants: bool,
    /// With --seed: print every operation of the run as well.
    #[arg(long)]
    ops: bool,
    /// Run this seed twice and compare the trace hashes.
    #[arg(long)]
    determinism: Option<u64>,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print a progress line every this many seeds instead of one per seed.
    #[arg(long)]
    progress_every: Option<u64>,
    /// Internal: run --seed as a worker for a parent ordo-sim and answer in
    /// its result format.
    #[arg(long, hide = true)]
    child: bool,
}

/// What a parent needs from one seed's child process.
struct SeedResult {
    seed: u64,
    passed: bool,
    /// The history checker reported a violation (as opposed to the run
    /// itself failing, e.g. a node panicking).
    checker_caught: bool,
    trace_hash: String,
    line: String,
    details: String,
}

const RESULT_TAG: &str = "RESULT";

/// Runs `seed` in a fresh process of this same binary.
fn run_in_child(seed: u64, mutant: Option<Mutant>) -> SeedResult {
    let mut command =
        std::process::Command::new(std::env::current_exe().expect("the running binary has a path"));
    command.args(["--child", "--seed", &seed.to_string()]);
    if let Some(m) = mutant {
        command.args(["--mutant", m.name()]);
    }
    let failed = |why: String| SeedResult {
        seed,
        passed: false,
        checker_caught: false,
        trace_hash: "-".into(),
        line: format!("seed {seed} FAIL ({why})"),
        details: format!("seed {seed}\n{why}\nrerun: make sim SEED={seed}\n"),
    };
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => return failed(format!("could not start a child: {e}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let Some(result) = lines.next().filter(|l| l.starts_with(RESULT_TAG)) else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<_> = stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return failed(format!(
            "the run crashed ({}):\n{}",
            output.status,
            tail.join("\n")
        ));
    };
    let fields: Vec<&str> = result.split_whitespace().collect();
    let line = lines.next().unwrap_or_default().to_string();
    let details = lines.collect::<Vec<_>>().join("\n");
    SeedResult {
        seed,
        passed: fields.get(3) == Some(&"ok"),
        checker_caught: fields.get(4) == Some(&"violations"),
        trace_hash: fields.get(2).copied().unwrap_or("-").to_string(),
        line,
        details,
    }
}

fn line(report: &RunReport) -> String {
    format!(
        "seed {} trace {:016x} {} ({:?}, {}, {:.1} s simulated)",
        report.seed,
        report.trace_hash,
        if report.passed() { "ok" } else { "FAIL" },
        report.schedule.scenario,
        summary(&report.history),
        report.sim_elapsed.as_secs_f64(),
    )
}

fn details(report: &RunReport) -> String {
    let mut out = format!("seed {}\nfault schedule: {}", report.seed, report.schedule);
    let clocks: Vec<String> = report
        .clock_offsets
        .iter()
        .map(|(at, node, offset)| {
            format!("node {node} {offset:+} ms from {:.3}s", at.as_secs_f64())
        })
        .collect();
    out += &format!("node clocks: {}\n", clocks.join(", "));
    for failure in &report.history.storage_failures {
        let injected = match failure.injected.as_slice() {
            [] => String::new(),
            errors => format!(" (after injected {})", errors.join(", ")),
        };
        out += &format!(
            "storage failure: node {} at {:.3}s: {}{injected}: {}; its process exited\n",
            failure.node,
            failure.at.as_secs_f64(),
            failure.stage,
            failure.error
        );
    }
    if let Some(error) = &report.run_error {
        out += &format!("run failed: {error}\n");
    }
    for violation in &report.violations {
        out += &format!("{violation}\n");
    }
    out += &format!("rerun: make sim SEED={}\n", report.seed);
    out
}

/// Runs `seeds` on `jobs` threads and hands each report to `each` in the
/// order of `seeds`. Stops pulling new seeds once `stop_when` holds for one
/// (seeds already started finish, so the first one it holds for is the same
/// on every run).
fn run_seeds(
    seeds: &[u64],
    jobs: usize,
    mutant: Option<Mutant>,
    stop_when: fn(&SeedResult) -> bool,
    mut each: impl FnMut(&SeedResult),
) -> Vec<u64> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, SeedResult)>();
    let mut failed = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let position = next.fetch_add(1, Ordering::SeqCst);
                let Some(seed) = seeds.get(position) else {
                    return;
                };
                let report = run_in_child(*seed, mutant);
                if stop_when(&report) {
                    stop.store(true, Ordering::SeqCst);
                }
                if tx.send((position, report)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut buffered = BTreeMap::new();
        let mut expected = 0;
        for (position, report) in rx {
            buffered.insert(position, report);
            while let Some(report) = buffered.remove(&expected) {
                if !report.passed {
                    failed.push(report.seed);
                }
                each(&report);
                expected += 1;
            }
        }
        // Seeds after a gap (possible only when stopping early).
        for report in buffered.into_values() {
            if !report.passed {
                failed.push(report.seed);
            }
            each(&report);
        }
    });
    failed.sort();
    failed
}

/// `count` seeds from `start`; with a scenario, only seeds of that scenario.
fn seeds(start: u64, count: u64, scenario: Option<Scenario>) -> Vec<u64> {
    (start..)
        .filter(|seed| scenario.is_none_or(|s| Schedule::scenario_of(*seed) == s))
        .take(count as usize)
        .collect()
}

fn hunt(mutant: Mutant, args: &Args, jobs: usize) -> bool {
    let started = Instant::now();
    let scenario = mutant.hunted_in();
    let mut first: Option<String> = None;
    // Only the history checker counts: a mutant that merely crashes a node
    // (openraft asserting on the state the bug left) is not "caught" here.
    let mut caught = Vec::new();
    let mut crashed = 0;
    run_seeds(
        &seeds(args.start, args.seeds, scenario),
        jobs,
        Some(mutant),
        |r| r.checker_caught,
        |report| {
            if report.checker_caught {
                caught.push(report.seed);
                if first.is_none() {
                    first = Some(report.details.clone());
                }
            } else if !report.passed {
                crashed += 1;
            }
        },
    );
    let failed = caught;
    if crashed > 0 {
        println!(
            "mutant {}: {crashed} seed(s) ended in a node crash rather than a checked violation",
            mutant.name()
        );
    }
    let among = scenario
        .map(|s| format!(" ({s:?} seeds only)"))
        .unwrap_or_default();
    match failed.first() {
        Some(seed) => {
            println!(
                "mutant {} caught at seed {seed}{among} ({:.0} s)\n{}",
                mutant.name(),
                started.elapsed().as_secs_f64(),
                first
                    .unwrap_or_default()
                    .lines()
                    .take(12)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            true
        }
        None => {
            println!(
                "mutant {} NOT caught in {} seeds{among}",
                mutant.name(),
                args.seeds
            );
            false
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    Mutant::switch(None);

    let mutant = match args.mutant.as_deref().map(Mutant::parse) {
        Some(None) => {
            eprintln!(
                "unknown mutant; one of: {}",
                Mutant::ALL.map(|m| m.name()).join(", ")
            );
            return ExitCode::FAILURE;
        }
        Some(Some(m)) => Some(m),
        None => None,
    };
    if let Some(seed) = args.determinism {
        let (a, b) = (run_in_child(seed, mutant), run_in_child(seed, mutant));
        println!("{}\n{}", a.line, b.line);
        if a.trace_hash == b.trace_hash && a.trace_hash != "-" {
            println!(
                "deterministic: seed {seed} gave trace {} twice",
                a.trace_hash
            );
            return ExitCode::SUCCESS;
        }
        println!("NOT deterministic: seed {seed} gave two different traces");
        return ExitCode::FAILURE;
    }
    if let Some(seed) = args.seed {
        Mutant::switch(mutant);
        let report = run(seed);
        if args.child {
            println!(
                "{RESULT_TAG} {seed} {:016x} {} {}",
                report.trace_hash,
                if report.passed() { "ok" } else { "FAIL" },
                if report.violations.is_empty() {
                    "none"
                } else {
                    "violations"
                }
            );
        }
        println!("{}\n{}", line(&report), details(&report));
        if args.ops && !args.child {
            for op in &report.history.ops {
                println!("{op}");
            }
        }
        return if report.passed() || args.child {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if args.all_mutants || mutant.is_some() {
        let mutants = match mutant {
            Some(m) => vec![m],
            None => Mutant::ALL.to_vec(),
        };
        let missed: Vec<_> = mutants
            .into_iter()
            .filter(|m| !hunt(*m, &args, jobs))
            .collect();
        if missed.is_empty() {
            println!("every mutant was caught");
            return ExitCode::SUCCESS;
        }
        println!(
            "missed mutants: {}",
            missed
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::FAILURE;
    }

    let started = Instant::now();
    let failures = Mutex::new(Vec::new());
    let mut done = 0u64;
    let failed = run_seeds(
        &seeds(args.start, args.seeds, None),
        jobs,
        None,
        |_| false,
        |report| {
            done += 1;
            match args.progress_every {
                Some(every) if done.is_multiple_of(every) || done == args.seeds => println!(
                    "progress {done}/{} seeds, {} failed, {:.0} s",
                    args.seeds,
                    failures.lock().map(|f| f.len()).unwrap_or(0),
                    started.elapsed().as_secs_f64()
                ),
                Some(_) => {}
                None => println!("{}", report.line),
            }
            if !report.passed {
                if let Ok(mut f) = failures.lock() {
                    f.push(report.details.clone());
                }
            }
        },
    );
    for failure in failures.into_inner().unwrap_or_default() {
        println!("\n{failure}");
    }
    println!(
        "{} seeds from {}: {} passed, {} failed ({:.0} s)",
        args.seeds,
        args.start,
        args.seeds - failed.len() as u64,
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
