//! [`LogStore`] as openraft's `RaftLogReader`: entries by range, by size
//! for replication, as a stream for applying, and the vote.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use futures::{Stream, StreamExt};
use openraft::type_config::alias::VoteOf;
use openraft::{OptionalSend, RaftLogReader};

use super::LogStore;
use crate::keys;
use crate::type_config::StoreTypeConfig;

/// How many entries [`RaftLogReader::entries_stream`] reads at a time.
pub(crate) const STREAM_CHUNK_ENTRIES: u64 = 64;

impl<C: StoreTypeConfig> RaftLogReader<C> for LogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, io::Error> {
        Ok(self.entries.read::<C>(&range)?)
    }

    /// What replication sends: the entries from `start`, or none if a
    /// purge removed `start` meanwhile (see `RaftLogSegments::read_from`;
    /// openraft's default would read what is left of the range, which
    /// starts later than the `prev_log_id` it sends them after).
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<C::Entry>, io::Error> {
        Ok(self.entries.read_from::<C>(start, end)?)
    }

    /// The entries openraft applies, read [`STREAM_CHUNK_ENTRIES`] at a
    /// time as they are consumed (openraft's default reads the whole range
    /// at once: a follower applying a backlog of thousands of entries held
    /// them all in memory, and its RSS passed a gigabyte).
    async fn entries_stream<RB>(
        &mut self,
        range: RB,
    ) -> impl Stream<Item = Result<C::Entry, io::Error>> + OptionalSend
    where
        RB: RangeBounds<u64> + Clone + Debug + OptionalSend,
    {
        let start = match range.start_bound() {
            Bound::Included(index) => *index,
            Bound::Excluded(index) => index.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(index) => index.saturating_add(1),
            Bound::Excluded(index) => *index,
            Bound::Unbounded => u64::MAX,
        };
        let store = self.clone();
        futures::stream::unfold(Some(start), move |next| {
            let store = store.clone();
            async move {
                let from = next.filter(|from| *from < end)?;
                let to = from.saturating_add(STREAM_CHUNK_ENTRIES).min(end);
                let (chunk, after): (Vec<Result<C::Entry, io::Error>>, _) =
                    match store.entries.read::<C>(&(from..to)) {
                        // A short chunk is the end of what the log holds.
                        Ok(entries) => {
                            let full = entries.len() as u64 == to - from;
                            (entries.into_iter().map(Ok).collect(), full.then_some(to))
                        }
                        Err(e) => (vec![Err(e.into())], None),
                    };
                (!chunk.is_empty()).then(|| (futures::stream::iter(chunk), after))
            }
        })
        .flatten()
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        #[cfg(feature = "mutants")]
        {
            let unpersisted = self.lock_unpersisted_vote().clone();
            if unpersisted.is_some() {
                return Ok(unpersisted);
            }
        }
        Ok(self.get_meta(keys::VOTE_KEY, "vote")?)
    }
}
