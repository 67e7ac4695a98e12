//! The snapshot stream's format: frames, each a 4-byte little-endian length
//! and that many bytes: a [`Frame::Header`], the key index in
//! [`Frame::Keys`] chunks, then each topic's records: the segment files
//! that hold them, each a [`Frame::Segment`] followed by the file's bytes
//! as they are on disk (with [`Frame::Tombstones`] first, naming the
//! records in them that compaction removed), then any rest as
//! [`Frame::Records`] runs, each followed by that many raw frames (each one
//! record encoded, as the record log hands it out and takes it back); and a
//! [`Frame::End`] that counts the records of the runs, so a truncated
//! snapshot is refused. Also what is read of a snapshot without installing
//! it: its metadata, and a copy of it with another membership.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, StoredMembershipOf};
use openraft::SnapshotMeta;
use ordo_core::{
    KeyState, Offset, Positions, ProducerId, ProducerState, Queues, TopicName, TopicState,
};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::snapshot_file::SnapshotData;
use crate::type_config::StoreTypeConfig;

/// Records per [`Frame::Records`] run, and keys per [`Frame::Keys`].
pub(super) const RECORDS_PER_RUN: usize = 1_000;
pub(super) const KEYS_PER_FRAME: usize = 10_000;
/// No frame is larger (a record is at most the 4 MiB request body; a header
/// holds every producer and consumer position): a corrupt length is refused
/// instead of allocated.
const MAX_FRAME_BYTES: usize = 256 * 1024 * 1024;

/// One frame of the snapshot stream (see the module doc).
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub(super) enum Frame<C: StoreTypeConfig> {
    Header(Header<C>),
    Keys {
        topic: TopicName,
        keys: Vec<(String, KeyState)>,
    },
    /// `count` raw frames follow: the topic's next records, in offset order.
    Records {
        topic: TopicName,
        count: u64,
    },
    /// Offsets of the topic's records that compaction removed but the
    /// segment files that follow still hold.
    Tombstones {
        topic: TopicName,
        offsets: Vec<Offset>,
    },
    /// `len` bytes follow: one sealed segment file of the topic, as it is
    /// on disk (checksummed frames of items: offset, timestamp, record).
    Segment {
        topic: TopicName,
        len: u64,
    },
    End {
        records: u64,
    },
}

/// A snapshot's first frame: all of the decided state but the key index and
/// the records.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub(super) struct Header<C: StoreTypeConfig> {
    pub(super) last_applied: Option<LogIdOf<C>>,
    pub(super) membership: StoredMembershipOf<C>,
    pub(super) topics: Vec<(TopicName, TopicState)>,
    pub(super) producers: BTreeMap<ProducerId, ProducerState>,
    pub(super) positions: Positions,
    /// Work queues (absent from snapshots made before them).
    #[serde(default)]
    pub(super) queues: Queues,
}

pub(super) fn write_frame<C: StoreTypeConfig>(
    out: &mut impl Write,
    frame: &Frame<C>,
) -> Result<(), StoreError> {
    write_raw(out, &encode("snapshot frame", frame)?)
}

pub(super) fn write_raw(out: &mut impl Write, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|len| *len as usize <= MAX_FRAME_BYTES)
        .ok_or_else(|| StoreError::BadSnapshot(format!("a frame of {} bytes", bytes.len())))?;
    out.write_all(&len.to_le_bytes())
        .and_then(|()| out.write_all(bytes))
        .map_err(|source| StoreError::Io {
            what: "write a snapshot",
            source,
        })
}

/// A snapshot's frames, read in order.
pub(super) type SnapshotFrames<'a> = FrameReader<Box<dyn Read + 'a>>;

/// Reads frames back.
pub(super) struct FrameReader<R> {
    pub(super) input: R,
}

impl<R: Read> FrameReader<R> {
    /// The next frame's bytes, or `None` at a clean end.
    pub(super) fn next_raw(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let read_error = |source| StoreError::Io {
            what: "read a snapshot",
            source,
        };
        let mut len = [0u8; 4];
        let mut filled = 0;
        while filled < len.len() {
            match self.input.read(&mut len[filled..]).map_err(read_error)? {
                0 if filled == 0 => return Ok(None),
                0 => return Err(truncated()),
                n => filled += n,
            }
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(StoreError::BadSnapshot(format!(
                "a frame claims {len} bytes, more than the {MAX_FRAME_BYTES} allowed"
            )));
        }
        let mut bytes = vec![0; len];
        self.input
            .read_exact(&mut bytes)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => truncated(),
                _ => read_error(e),
            })?;
        Ok(Some(bytes))
    }

    pub(super) fn next_frame<C: StoreTypeConfig>(&mut self) -> Result<Frame<C>, StoreError> {
        let bytes = self.next_raw()?.ok_or_else(truncated)?;
        decode("snapshot frame", &bytes)
    }
}

pub(super) fn truncated() -> StoreError {
    StoreError::BadSnapshot("the snapshot ends before its end frame (truncated)".into())
}

/// The metadata a snapshot's header gives (its last applied log id and
/// membership), read without the rest.
pub(crate) fn read_meta<C: StoreTypeConfig>(
    data: &SnapshotData,
) -> Result<SnapshotMetaOf<C>, StoreError> {
    let (_, header) = read_header::<C>(data)?;
    Ok(SnapshotMeta {
        last_log_id: header.last_applied,
        last_membership: header.membership,
    })
}

/// Opens `data` and reads its header, which must come first.
pub(super) fn read_header<C: StoreTypeConfig>(
    data: &SnapshotData,
) -> Result<(SnapshotFrames<'_>, Header<C>), StoreError> {
    let mut frames = FrameReader {
        input: data.reader(),
    };
    match frames.next_frame::<C>()? {
        Frame::Header(header) => Ok((frames, header)),
        _ => Err(StoreError::BadSnapshot(
            "it does not start with a header".into(),
        )),
    }
}

/// Copies `data` to `out` with its header's membership replaced by
/// `membership` (restoring a backup into a cluster of other nodes).
pub(crate) fn copy_with_membership<C: StoreTypeConfig>(
    data: &SnapshotData,
    membership: StoredMembershipOf<C>,
    mut out: crate::SnapshotWriter,
) -> Result<SnapshotData, StoreError> {
    let (mut frames, header) = read_header::<C>(data)?;
    let header = Frame::<C>::Header(Header {
        membership,
        ..header
    });
    write_frame(&mut out, &header)?;
    io::copy(&mut frames.input, &mut out).map_err(|source| StoreError::Io {
        what: "copy a snapshot",
        source,
    })?;
    out.finish()
}
