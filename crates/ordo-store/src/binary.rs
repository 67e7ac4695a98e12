//! The primitives of ordo's binary layouts (a record in a segment file,
//! an append command in a Raft entry): LEB128 varints, length-prefixed
//! UTF-8 strings, and a [`Reader`] that walks them and refuses whatever is
//! cut short or malformed instead of reading past it. Pure.

/// What was wrong with bytes a [`Reader`] was given; the caller puts it in
/// its own error, with what it was reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// Appends `value` as a LEB128 varint (at most 10 bytes).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `text` as its length (a varint) and its UTF-8 bytes.
pub(crate) fn put_str(out: &mut Vec<u8>, text: &str) {
    put_bytes(out, text.as_bytes());
}

/// Appends `bytes` as their length (a varint) and themselves.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Reads, front to back, what the `put_*` functions wrote.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or(Malformed("it ends where a byte was expected"))?;
        self.at += 1;
        Ok(byte)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or(Malformed("it ends inside a number"))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed("a number runs past 64 bits"))
    }

    /// The next `len` bytes.
    pub(crate) fn bytes(&mut self, len: u64) -> Result<&'a [u8], Malformed> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.at.checked_add(len))
            .filter(|end| *end <= self.bytes.len())
            .ok_or(Malformed("a string runs past its end"))?;
        let bytes = &self.bytes[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    /// The next `len` bytes, which must be UTF-8.
    pub(crate) fn str(&mut self, len: u64) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.bytes(len)?).map_err(|_| Malformed("a string is not UTF-8"))
    }

    /// A string written by [`put_str`].
    pub(crate) fn prefixed_str(&mut self) -> Result<&'a str, Malformed> {
        let len = self.varint()?;
        self.str(len)
    }

    /// Bytes written by [`put_bytes`].
    pub(crate) fn prefixed_bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.varint()?;
        self.bytes(len)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.at..];
        self.at = self.bytes.len();
        rest
    }

    /// How many bytes are left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_put_reads_back() {
        let mut out = Vec::new();
        for value in [0, 1, 127, 128, 300, u64::MAX] {
            put_varint(&mut out, value);
        }
        put_str(&mut out, "ä-key");
        put_bytes(&mut out, b"\x00\xff");
        out.push(7);
        let mut reader = Reader::new(&out);
        for value in [0, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(reader.varint(), Ok(value));
        }
        assert_eq!(reader.prefixed_str(), Ok("ä-key"));
        assert_eq!(reader.prefixed_bytes(), Ok(&b"\x00\xff"[..]));
        assert_eq!(reader.remaining(), 1);
        assert_eq!(reader.u8(), Ok(7));
        assert_eq!(reader.remaining(), 0);
        assert!(reader.u8().is_err());
    }

    #[test]
    fn short_or_malformed_bytes_are_refused() {
        assert!(Reader::new(&[0x80]).varint().is_err(), "cut inside");
        assert!(Reader::new(&[0xff; 11]).varint().is_err(), "past 64 bits");
        assert!(Reader::new(&[5, b'a']).prefixed_str().is_err(), "too short");
        assert!(Reader::new(&[1, 0xff]).prefixed_str().is_err(), "not UTF-8");
        let huge = {
            let mut out = Vec::new();
            put_varint(&mut out, u64::MAX);
            out
        };
        assert!(Reader::new(&huge).prefixed_bytes().is_err());
    }
}
