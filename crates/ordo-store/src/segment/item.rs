//! Items, what one frame of a segment log carries: `seq u64 LE`,
//! `timestamp_ms u64 LE`, then the caller's opaque payload. Pure.

use super::frame;

/// Bytes of an item before its payload.
pub(crate) const ITEM_HEADER_BYTES: usize = 16;

/// The largest payload one item may carry.
pub(crate) const MAX_ITEM_PAYLOAD_BYTES: usize = frame::MAX_PAYLOAD_BYTES - ITEM_HEADER_BYTES;

/// One item of a segment log, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// Its sequence number: the Raft log index, or the record's offset.
    pub seq: u64,
    pub timestamp_ms: u64,
    pub payload: Vec<u8>,
}

/// One item to append, borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemRef<'a> {
    pub seq: u64,
    pub timestamp_ms: u64,
    pub payload: &'a [u8],
}

impl Item {
    pub(crate) fn as_ref(&self) -> ItemRef<'_> {
        ItemRef {
            seq: self.seq,
            timestamp_ms: self.timestamp_ms,
            payload: &self.payload,
        }
    }
}

impl ItemRef<'_> {
    pub(crate) fn to_item(self) -> Item {
        Item {
            seq: self.seq,
            timestamp_ms: self.timestamp_ms,
            payload: self.payload.to_vec(),
        }
    }

    /// Appends this item's frame to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let seq = self.seq.to_le_bytes();
        let timestamp = self.timestamp_ms.to_le_bytes();
        frame::encode(&[&seq, &timestamp, self.payload], out);
    }

    /// The length of this item's frame.
    pub(crate) fn frame_len(&self) -> u64 {
        frame::frame_len(ITEM_HEADER_BYTES + self.payload.len()) as u64
    }
}

/// The item in a frame's payload, or `None` if it is too short to be one.
pub(crate) fn decode(frame_payload: &[u8]) -> Option<ItemRef<'_>> {
    let (header, payload) = frame_payload.split_at_checked(ITEM_HEADER_BYTES)?;
    let (seq, timestamp) = header.split_at(8);
    Some(ItemRef {
        seq: u64::from_le_bytes(seq.try_into().ok()?),
        timestamp_ms: u64::from_le_bytes(timestamp.try_into().ok()?),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_decodes_from_its_frame() {
        let item = ItemRef {
            seq: 7,
            timestamp_ms: 1_700_000_000_000,
            payload: b"payload",
        };
        let mut out = Vec::new();
        item.encode(&mut out);
        assert_eq!(out.len() as u64, item.frame_len());
        let decoded = decode(&out[frame::HEADER_BYTES..]).expect("an item");
        assert_eq!(
            (decoded.seq, decoded.timestamp_ms, decoded.payload),
            (7, 1_700_000_000_000, &b"payload"[..])
        );
        assert!(decode(&[0; ITEM_HEADER_BYTES - 1]).is_none());
    }
}
