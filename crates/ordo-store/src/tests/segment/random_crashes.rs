//! Under random appends, syncs (some with appends, and so rolls, while the
//! disk works), truncations, purges, resets and crashes on the memory disk
//! (each crash keeping a random prefix of every file's unsynced bytes),
//! every synced item survives, and the log after a crash is a prefix of
//! what was appended: nothing out of order, nothing corrupt. Half the seeds
//! write the newest segment directly ([`SegmentOptions::direct_sync`]).
//! Seeded, so a failure names the seed that reproduces it.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use std::path::Path;

use super::support::{read_all, Medium, DIR};
use crate::segment::{Item, RecoveryAction, SegmentLog, SegmentOptions};
use crate::MemDisk;

const SEEDS: u64 = 12;
const STEPS: usize = 400;

/// What the log must hold: `items`, from seq `first`, of which the first
/// `durable` survive any crash.
struct Model {
    first: u64,
    items: Vec<Item>,
    durable: usize,
}

impl Model {
    fn next_seq(&self) -> u64 {
        self.first + self.items.len() as u64
    }
}

/// What the crashes of a run did, to show the test reaches the repairs.
#[derive(Default)]
struct Exercised {
    torn_tails_cut: usize,
    unsynced_items_kept: usize,
}

#[test]
fn every_synced_item_survives_random_crashes_and_the_log_stays_a_prefix_of_the_appends() {
    let mut exercised = Exercised::default();
    for seed in 0..SEEDS {
        run(seed, &mut exercised);
    }
    assert!(exercised.torn_tails_cut > 0, "no crash tore a frame");
    assert!(
        exercised.unsynced_items_kept > 0,
        "no crash kept an unsynced item"
    );
}

fn run(seed: u64, exercised: &mut Exercised) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let disk = MemDisk::new();
    let medium = Medium::Memory(disk.clone());
    let options = SegmentOptions {
        segment_bytes: rng.random_range(200..1200),
        index_interval_bytes: rng.random_range(1..300),
        write_buffer_bytes: rng.random_range(0..400),
        allow_gaps: false,
        direct_sync: seed % 2 == 1,
    };
    let mut model = Model {
        first: 0,
        items: Vec::new(),
        durable: 0,
    };
    let (mut log, _) = medium.open(&options);
    let mut now_ms: u64 = 1_000;
    for step in 0..STEPS {
        let at = format!("seed {seed} step {step}");
        match rng.random_range(0..100) {
            0..55 => append_random(&mut log, &mut model, &mut rng, &mut now_ms, &at),
            55..65 => {
                // The disk works without the log; appends go on meanwhile.
                let durable = model.items.len();
                let pending = log
                    .begin_sync()
                    .unwrap_or_else(|e| panic!("{at}: begin sync: {e}"));
                for _ in 0..rng.random_range(0..4) {
                    append_random(&mut log, &mut model, &mut rng, &mut now_ms, &at);
                }
                let synced = pending
                    .sync()
                    .unwrap_or_else(|e| panic!("{at}: pending sync: {e}"));
                log.synced(synced);
                model.durable = durable;
            }
            65..75 => {
                let last = log.sync().unwrap_or_else(|e| panic!("{at}: sync: {e}"));
                assert_eq!(
                    last,
                    model
                        .next_seq()
                        .checked_sub(1)
                        .filter(|_| !model.items.is_empty()),
                    "{at}"
                );
                model.durable = model.items.len();
            }
            75..80 if !model.items.is_empty() => {
                let keep = rng.random_range(1..=model.items.len());
                log.truncate_after(model.first + keep as u64 - 1)
                    .unwrap_or_else(|e| panic!("{at}: truncate: {e}"));
                model.items.truncate(keep);
                model.durable = model.durable.min(keep);
            }
            80..84 => {
                let before = rng.random_range(model.first..=model.next_seq());
                log.purge_before(before)
                    .unwrap_or_else(|e| panic!("{at}: purge: {e}"));
                let purged = (log.first_seq() - model.first) as usize;
                assert!(log.first_seq() <= before.max(model.first), "{at}");
                model.items.drain(..purged);
                model.durable = model.durable.saturating_sub(purged);
                model.first = log.first_seq();
            }
            84..86 => {
                let next_seq = model.next_seq() + rng.random_range(0..100);
                log.reset(next_seq)
                    .unwrap_or_else(|e| panic!("{at}: reset: {e}"));
                model = Model {
                    first: next_seq,
                    items: Vec::new(),
                    durable: 0,
                };
            }
            _ => {
                drop(log);
                disk.crash_with(0, |_, unsynced| rng.random_range(0..=unsynced));
                log = reopen_and_check(&medium, &options, &mut model, exercised, &at);
                check_reads(&log, &model, &mut rng, now_ms, &at);
            }
        }
    }
}

/// Appends one to five random items.
fn append_random(
    log: &mut SegmentLog,
    model: &mut Model,
    rng: &mut SmallRng,
    now_ms: &mut u64,
    at: &str,
) {
    let batch: Vec<Item> = (0..rng.random_range(1..6))
        .map(|i| {
            // Mostly rising, sometimes behind: clocks differ.
            *now_ms = (*now_ms + rng.random_range(0..50)).saturating_sub(20);
            let mut payload = vec![0; rng.random_range(0..150)];
            rng.fill(&mut payload[..]);
            Item {
                seq: model.next_seq() + i,
                timestamp_ms: *now_ms,
                payload,
            }
        })
        .collect();
    log.append_batch(batch.iter().map(Item::as_ref))
        .unwrap_or_else(|e| panic!("{at}: append: {e}"));
    model.items.extend(batch);
}

/// Reopens the log after a crash, checks it against the model, and makes
/// the model what survived (all of it durable now).
fn reopen_and_check(
    medium: &Medium,
    options: &SegmentOptions,
    model: &mut Model,
    exercised: &mut Exercised,
    at: &str,
) -> SegmentLog {
    let (log, recovery) = SegmentLog::open(medium.files(), Path::new(DIR), options.clone())
        .unwrap_or_else(|e| panic!("{at}: reopen: {e}"));
    assert_eq!(log.first_seq(), model.first, "{at}: the first seq");
    let survived = read_all(&log, model.first);
    assert!(
        survived.len() >= model.durable,
        "{at}: {} of {} synced items survived",
        survived.len(),
        model.durable
    );
    assert!(
        survived.len() <= model.items.len() && survived[..] == model.items[..survived.len()],
        "{at}: the log is not a prefix of the appends"
    );
    assert_eq!(log.next_seq(), model.first + survived.len() as u64, "{at}");
    exercised.unsynced_items_kept += survived.len() - model.durable;
    exercised.torn_tails_cut += recovery
        .actions
        .iter()
        .filter(|action| matches!(action, RecoveryAction::CutTornTail { .. }))
        .count();
    model.items = survived;
    model.durable = model.items.len();
    log
}

/// Random reads and time seeks agree with the model.
fn check_reads(log: &SegmentLog, model: &Model, rng: &mut SmallRng, now_ms: u64, at: &str) {
    for _ in 0..5 {
        let from = rng.random_range(model.first..=model.next_seq());
        let max_items = rng.random_range(1..20);
        let read = log
            .read(from, max_items, usize::MAX)
            .unwrap_or_else(|e| panic!("{at}: read: {e}"));
        let start = (from - model.first) as usize;
        let end = (start + max_items).min(model.items.len());
        assert_eq!(read[..], model.items[start..end], "{at}: read from {from}");

        let t = rng.random_range(900..now_ms + 50);
        let expected = model.items.iter().find(|item| item.timestamp_ms >= t);
        let found = log
            .seek_time(t)
            .unwrap_or_else(|e| panic!("{at}: seek: {e}"));
        assert_eq!(found, expected.map(|item| item.seq), "{at}: seek {t}");
    }
}
