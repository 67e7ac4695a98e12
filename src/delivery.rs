//! Which position `ordo tail --group` may commit: pure bookkeeping, no I/O
//! and no clock of its own.
//!
//! A record counts as delivered only once the reader of stdout has taken
//! it, and the reader was still there a while later. Writing a line is not
//! enough: a pipe holds 64 KiB, so `ordo tail --group g | head -5` can
//! write a thousand lines that `head` never reads, and committing them
//! would skip records 5-999 for good. So each printed line is recorded with
//! the byte count at its end; the tail reports how many bytes still wait
//! unread in the pipe (a terminal or a file takes every byte at once), and
//! a position becomes due once its bytes were taken at least `settle` ago.
//! The tail commits a due position only while stdout is still open, so a
//! reader that quits right after reading (`head`) leaves the rest
//! uncommitted: redelivered next time, never skipped (at-least-once).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ordo_core::Offset;

/// The ledger of printed, taken and committed positions; see the module docs.
#[derive(Debug)]
pub struct Delivery {
    /// How long the reader must outlive taking a line before its position
    /// is due (zero for a terminal or a file).
    settle: Duration,
    /// Bytes written to stdout so far.
    written_bytes: u64,
    /// Printed positions the reader has not taken yet: the byte count at
    /// the end of the line, and the position after it.
    printed: VecDeque<(u64, Offset)>,
    /// Positions taken by the reader, and when that was first seen.
    taken: VecDeque<(Offset, Instant)>,
    committed: Option<Offset>,
}

impl Delivery {
    /// `committed`: the group's position when the tail started, if any.
    pub fn new(settle: Duration, committed: Option<Offset>) -> Delivery {
        Delivery {
            settle,
            written_bytes: 0,
            printed: VecDeque::new(),
            taken: VecDeque::new(),
            committed,
        }
    }

    /// `bytes` more were written and flushed, ending with the line of the
    /// record just before `position` (or a gap the tail moved past).
    pub fn printed(&mut self, bytes: u64, position: Offset) {
        self.written_bytes += bytes;
        self.printed.push_back((self.written_bytes, position));
    }

    /// The reader has left `unread_bytes` of what was written (0 for a
    /// terminal or a file, which take every byte at once) as of `now`.
    pub fn observe(&mut self, unread_bytes: u64, now: Instant) {
        let taken_bytes = self.written_bytes.saturating_sub(unread_bytes);
        while let Some(&(end, position)) = self.printed.front() {
            if end > taken_bytes {
                break;
            }
            self.printed.pop_front();
            self.taken.push_back((position, now));
        }
    }

    /// The furthest position due for a commit at `now`, if it moves the
    /// group forward.
    pub fn due(&self, now: Instant) -> Option<Offset> {
        let position = self
            .taken
            .iter()
            .take_while(|(_, at)| now.saturating_duration_since(*at) >= self.settle)
            .map(|(position, _)| *position)
            .last()?;
        (Some(position) > self.committed).then_some(position)
    }

    /// `position` is now the group's committed position.
    pub fn committed(&mut self, position: Offset) {
        self.committed = Some(position);
        while self.taken.front().is_some_and(|(p, _)| *p <= position) {
            self.taken.pop_front();
        }
    }

    /// Something printed is not committed yet.
    pub fn is_pending(&self) -> bool {
        !self.printed.is_empty() || !self.taken.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_secs(1);

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_terminal_makes_each_printed_line_due_at_once() {
        let start = Instant::now();
        let mut delivery = Delivery::new(Duration::ZERO, None);
        delivery.printed(2, Offset(1));
        delivery.printed(2, Offset(2));
        delivery.observe(0, start);
        assert_eq!(delivery.due(start), Some(Offset(2)));
        delivery.committed(Offset(2));
        assert_eq!(delivery.due(start), None);
        assert!(!delivery.is_pending());
    }

    #[test]
    fn lines_still_in_the_pipe_are_never_due() {
        let start = Instant::now();
        let mut delivery = Delivery::new(SETTLE, None);
        // Five lines of two bytes; the reader took the first three.
        for position in 1..=5 {
            delivery.printed(2, Offset(position));
        }
        delivery.observe(4, start);
        assert_eq!(delivery.due(at(start, 5_000)), Some(Offset(3)));
        delivery.committed(Offset(3));
        assert_eq!(delivery.due(at(start, 5_000)), None);
        assert!(delivery.is_pending());
    }

    #[test]
    fn a_taken_line_is_due_only_once_the_reader_outlived_it_by_the_settle_time() {
        let start = Instant::now();
        let mut delivery = Delivery::new(SETTLE, None);
        delivery.printed(10, Offset(1));
        delivery.observe(0, start);
        assert_eq!(delivery.due(at(start, 999)), None);
        assert_eq!(delivery.due(at(start, 1_000)), Some(Offset(1)));
    }

    #[test]
    fn a_steady_stream_still_commits_what_settled() {
        let start = Instant::now();
        let mut delivery = Delivery::new(SETTLE, None);
        for (step, position) in (1..=30).enumerate() {
            delivery.printed(3, Offset(position));
            delivery.observe(0, at(start, step as u64 * 100));
        }
        // At 2.9 s the lines taken by 1.9 s (positions 1-20) have settled.
        assert_eq!(delivery.due(at(start, 2_900)), Some(Offset(20)));
    }

    #[test]
    fn the_starting_position_is_not_committed_again() {
        let start = Instant::now();
        let mut delivery = Delivery::new(Duration::ZERO, Some(Offset(7)));
        delivery.printed(0, Offset(7));
        delivery.observe(0, start);
        assert_eq!(delivery.due(start), None);
        delivery.printed(3, Offset(8));
        delivery.observe(0, start);
        assert_eq!(delivery.due(start), Some(Offset(8)));
    }
}
