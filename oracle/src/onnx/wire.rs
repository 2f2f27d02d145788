//! A minimal, bounded protobuf wire-format reader over `BufRead + Seek`.
//!
//! Every read is checked against two limits: the end of the enclosing message (`end`, passed
//! by the caller) and the end of the input. Running past the end of the input is reported as
//! [`ScanError::Truncated`]; a nested value that runs past its enclosing message is
//! [`ScanError::Malformed`]. Length-delimited payloads are never buffered whole: they are
//! skipped by seeking or streamed in chunks.

use std::io::{BufRead, Seek, SeekFrom};

use super::ScanError;

/// A protobuf wire type (groups are rejected when the tag is read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    I64,
    Len,
    I32,
}

impl WireType {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            WireType::Varint => "varint",
            WireType::I64 => "fixed64",
            WireType::Len => "length-delimited",
            WireType::I32 => "fixed32",
        }
    }
}

/// A field key: field number, wire type, and the byte offset where the key starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tag {
    pub field: u32,
    pub wt: WireType,
    pub offset: u64,
}

pub(crate) fn malformed(offset: u64, reason: impl Into<String>) -> ScanError {
    ScanError::Malformed {
        offset,
        reason: reason.into(),
    }
}

pub(crate) struct Wire<R> {
    r: R,
    pos: u64,
    len: u64,
}

impl<R: BufRead + Seek> Wire<R> {
    pub(crate) fn new(mut r: R) -> Result<Self, ScanError> {
        let len = r.seek(SeekFrom::End(0))?;
        r.seek(SeekFrom::Start(0))?;
        Ok(Self { r, pos: 0, len })
    }

    /// Current offset from the start of the input.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Total length of the input.
    pub(crate) fn total_len(&self) -> u64 {
        self.len
    }

    /// The error for a value starting at `start` that needs bytes beyond `end`.
    fn overrun(&self, start: u64, end: u64) -> ScanError {
        if end >= self.len {
            ScanError::Truncated { offset: start }
        } else {
            malformed(start, "a value runs past the end of its enclosing message")
        }
    }

    fn byte(&mut self, start: u64, end: u64) -> Result<u8, ScanError> {
        if self.pos >= end {
            return Err(self.overrun(start, end));
        }
        let buf = self.r.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Err(ScanError::Truncated { offset: start });
        };
        self.r.consume(1);
        self.pos += 1;
        Ok(b)
    }

    /// Reads a base-128 varint that must end before `end`.
    pub(crate) fn varint(&mut self, end: u64) -> Result<u64, ScanError> {
        let start = self.pos;
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte(start, end)?;
            if i == 9 && b > 1 {
                return Err(malformed(start, "varint does not fit in 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed(start, "varint is longer than 10 bytes"))
    }

    /// Reads the next field key, or `None` when the message ends exactly at `end`.
    pub(crate) fn tag(&mut self, end: u64) -> Result<Option<Tag>, ScanError> {
        if self.pos >= end {
            return Ok(None);
        }
        let offset = self.pos;
        let key = self.varint(end)?;
        let field = key >> 3;
        if field == 0 || field > (1 << 29) - 1 {
            return Err(malformed(
                offset,
                format!("invalid protobuf field number {field}"),
            ));
        }
        let wt = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::I64,
            2 => WireType::Len,
            5 => WireType::I32,
            3 | 4 => {
                return Err(malformed(
                    offset,
                    format!(
                        "field {field} uses protobuf groups (wire type 3/4), which ONNX never uses"
                    ),
                ));
            }
            other => {
                return Err(malformed(
                    offset,
                    format!("field {field} has invalid protobuf wire type {other}"),
                ));
            }
        };
        Ok(Some(Tag {
            field: field as u32,
            wt,
            offset,
        }))
    }

    /// Reads the length prefix of a length-delimited field whose key started at `tag_offset`;
    /// returns the offset where its payload ends (the payload starts at [`Self::pos`]).
    pub(crate) fn len_prefix(&mut self, tag_offset: u64, end: u64) -> Result<u64, ScanError> {
        let n = self.varint(end)?;
        match self.pos.checked_add(n) {
            Some(fend) if fend <= end => Ok(fend),
            _ if end >= self.len => Err(ScanError::Truncated { offset: tag_offset }),
            _ => Err(malformed(
                tag_offset,
                format!(
                    "field declares {n} bytes but its enclosing message ends {} bytes later",
                    end - self.pos
                ),
            )),
        }
    }

    /// Moves to `target`, forwards or backwards, without reading (target must be <= len).
    pub(crate) fn seek_to(&mut self, target: u64) -> Result<(), ScanError> {
        debug_assert!(target <= self.len);
        if target != self.pos {
            let delta = i64::try_from(target as i128 - self.pos as i128)
                .map_err(|_| malformed(self.pos, "offset out of range"))?;
            self.r.seek_relative(delta)?;
            self.pos = target;
        }
        Ok(())
    }

    fn skip_fixed(&mut self, tag_offset: u64, n: u64, end: u64) -> Result<(), ScanError> {
        match self.pos.checked_add(n) {
            Some(target) if target <= end => self.seek_to(target),
            _ => Err(self.overrun(tag_offset, end)),
        }
    }

    /// Skips the value of a field whose key was just read.
    pub(crate) fn skip(&mut self, tag: &Tag, end: u64) -> Result<(), ScanError> {
        match tag.wt {
            WireType::Varint => self.varint(end).map(drop),
            WireType::I64 => self.skip_fixed(tag.offset, 8, end),
            WireType::I32 => self.skip_fixed(tag.offset, 4, end),
            WireType::Len => {
                let fend = self.len_prefix(tag.offset, end)?;
                self.seek_to(fend)
            }
        }
    }

    /// Reads exactly `N` bytes (a fixed32/fixed64 value) that must end before `end`.
    pub(crate) fn fixed<const N: usize>(&mut self, end: u64) -> Result<[u8; N], ScanError> {
        let start = self.pos;
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte(start, end)?;
        }
        Ok(out)
    }

    /// Streams the bytes up to `fend` into `f` in buffer-sized chunks.
    pub(crate) fn stream(&mut self, fend: u64, mut f: impl FnMut(&[u8])) -> Result<(), ScanError> {
        while self.pos < fend {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Err(ScanError::Truncated { offset: self.pos });
            }
            let n = buf
                .len()
                .min(usize::try_from(fend - self.pos).unwrap_or(usize::MAX));
            f(&buf[..n]);
            self.r.consume(n);
            self.pos += n as u64;
        }
        Ok(())
    }

    /// Reads a short length-delimited payload (names, keys) into memory, refusing more than
    /// `max` bytes.
    pub(crate) fn small_bytes(
        &mut self,
        tag: &Tag,
        end: u64,
        max: usize,
        what: &str,
    ) -> Result<Vec<u8>, ScanError> {
        let fend = self.len_prefix(tag.offset, end)?;
        let n = fend - self.pos;
        if n > max as u64 {
            return Err(ScanError::Unsupported(format!(
                "{what} at byte {} is {n} bytes long (the limit is {max})",
                tag.offset
            )));
        }
        let mut out = Vec::with_capacity(n as usize);
        self.stream(fend, |c| out.extend_from_slice(c))?;
        Ok(out)
    }

    /// Like [`Self::small_bytes`], but the payload must be UTF-8.
    pub(crate) fn small_string(
        &mut self,
        tag: &Tag,
        end: u64,
        max: usize,
        what: &str,
    ) -> Result<String, ScanError> {
        let bytes = self.small_bytes(tag, end, max, what)?;
        String::from_utf8(bytes)
            .map_err(|_| malformed(tag.offset, format!("{what} is not valid UTF-8")))
    }
}
