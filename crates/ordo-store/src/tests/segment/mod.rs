//! The segment engine's promises, one file per promise: the file media keep
//! their durability contract (`files`); a log reads back what was appended
//! across segments, reopens and the operations that change its segments
//! (`log`); opening repairs what a crash leaves and refuses corruption
//! (`recovery`); and under random appends, syncs and crashes every synced
//! item survives and the log stays a prefix of what was appended
//! (`random_crashes`).

mod files;
mod gaps;
mod log;
mod random_crashes;
mod recovery;
mod support;
