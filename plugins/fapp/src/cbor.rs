//! A small, strict CBOR (RFC 8949) writer and reader for FAPP's wire messages.
//!
//! Owns: [`Writer`], [`Reader`] and [`DecodeError`]. FAPP bodies use only
//! unsigned integers, byte strings, text strings, arrays, `null` and booleans,
//! so this is all of CBOR that FAPP needs, written out so every byte of a
//! message is accounted for (`docs/fapp.md` lists them).
//!
//! The reader is strict on purpose: it accepts only the shortest encoding of
//! every length and integer (one message has exactly one encoding), refuses
//! indefinite lengths, checks every length against the bytes that are left
//! and against a caller-given maximum *before* allocating anything, and never
//! panics on any input (the decoder fuzz tests in `messages` hold it to that).

use core::fmt;

/// Why bytes are not a valid FAPP message. Counted (metric `malformed`) and
/// dropped by the plugin; never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is empty.
    Empty,
    /// The first byte is not a FAPP message tag.
    UnknownTag(u8),
    /// The input ended inside an item.
    Truncated,
    /// Bytes were left after the message.
    Trailing(usize),
    /// An item of another type was found where `expected` was due.
    WrongType {
        /// What the decoder wanted.
        expected: &'static str,
    },
    /// A list, string or number is larger than FAPP allows.
    TooLarge {
        /// Which field.
        what: &'static str,
        /// Its size (or value).
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A length or integer was not encoded in its shortest form, or with an
    /// indefinite length.
    NonCanonical,
    /// Nesting deeper than the reader follows when skipping unknown items.
    TooDeep,
    /// The item is well-formed CBOR but its value breaks a FAPP rule.
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty payload"),
            DecodeError::UnknownTag(t) => write!(f, "unknown message tag 0x{t:02x}"),
            DecodeError::Truncated => f.write_str("truncated"),
            DecodeError::Trailing(n) => write!(f, "{n} trailing bytes"),
            DecodeError::WrongType { expected } => write!(f, "expected {expected}"),
            DecodeError::TooLarge { what, size, max } => write!(f, "{what}: {size} exceeds the limit of {max}"),
            DecodeError::NonCanonical => f.write_str("non-canonical CBOR encoding"),
            DecodeError::TooDeep => f.write_str("nested too deeply"),
            DecodeError::Invalid(what) => write!(f, "invalid: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

const MAJOR_UINT: u8 = 0;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_SIMPLE: u8 = 7;

const FALSE: u8 = 0xf4;
const TRUE: u8 = 0xf5;
const NULL: u8 = 0xf6;

/// How deep [`Reader::skip`] follows nested items (FAPP's own nesting is 3).
const MAX_SKIP_DEPTH: usize = 8;

/// Appends CBOR items to a buffer. Every method writes the shortest encoding.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { buf: Vec::with_capacity(capacity) }
    }

    /// A writer that appends to `buf`.
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Self { buf }
    }

    /// The bytes written so far.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn head(&mut self, major: u8, value: u64) {
        let m = major << 5;
        if value < 24 {
            self.buf.push(m | value as u8);
        } else if value <= u8::MAX as u64 {
            self.buf.extend_from_slice(&[m | 24, value as u8]);
        } else if value <= u16::MAX as u64 {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(value as u16).to_be_bytes());
        } else if value <= u32::MAX as u64 {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(value as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&value.to_be_bytes());
        }
    }

    /// An unsigned integer.
    pub fn uint(&mut self, value: u64) {
        self.head(MAJOR_UINT, value);
    }

    /// A byte string.
    pub fn bytes(&mut self, value: &[u8]) {
        self.head(MAJOR_BYTES, value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    /// A text string.
    pub fn text(&mut self, value: &str) {
        self.head(MAJOR_TEXT, value.len() as u64);
        self.buf.extend_from_slice(value.as_bytes());
    }

    /// The head of an array of `len` items (the items follow).
    pub fn array(&mut self, len: usize) {
        self.head(MAJOR_ARRAY, len as u64);
    }

    /// `null`.
    pub fn null(&mut self) {
        self.buf.push(NULL);
    }

    /// `true` or `false`.
    pub fn bool(&mut self, value: bool) {
        self.buf.push(if value { TRUE } else { FALSE });
    }

    /// A text string, or `null` for `None`.
    pub fn opt_text(&mut self, value: Option<&str>) {
        match value {
            Some(text) => self.text(text),
            None => self.null(),
        }
    }

    /// Bytes that are already valid CBOR (one or more complete items).
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }
}

/// Reads CBOR items from a byte slice, front to back.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes between two positions (for keeping an item's raw encoding).
    pub fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        self.buf.get(from..to).unwrap_or_default()
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.buf.get(self.pos).copied().ok_or(DecodeError::Truncated)
    }

    /// Reads an item head: (major type, argument). Refuses indefinite lengths,
    /// reserved values and non-shortest arguments.
    fn head(&mut self) -> Result<(u8, u64), DecodeError> {
        let first = self.take(1)?[0];
        let (major, info) = (first >> 5, first & 0x1f);
        let value = match info {
            0..=23 => info as u64,
            24 => {
                let v = self.take(1)?[0] as u64;
                if v < 24 {
                    return Err(DecodeError::NonCanonical);
                }
                v
            }
            25 => {
                let b = self.take(2)?;
                let v = u16::from_be_bytes([b[0], b[1]]) as u64;
                if v <= u8::MAX as u64 {
                    return Err(DecodeError::NonCanonical);
                }
                v
            }
            26 => {
                let b = self.take(4)?;
                let v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
                if v <= u16::MAX as u64 {
                    return Err(DecodeError::NonCanonical);
                }
                v
            }
            27 => {
                let b = self.take(8)?;
                let v = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                if v <= u32::MAX as u64 {
                    return Err(DecodeError::NonCanonical);
                }
                v
            }
            // 28-30 are reserved; 31 is an indefinite length (or "break").
            _ => return Err(DecodeError::NonCanonical),
        };
        Ok((major, value))
    }

    fn expect(&mut self, major: u8, expected: &'static str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let (m, value) = self.head()?;
        if m != major {
            self.pos = start;
            return Err(DecodeError::WrongType { expected });
        }
        Ok(value)
    }

    /// An unsigned integer no larger than `max`.
    pub fn uint(&mut self, what: &'static str, max: u64) -> Result<u64, DecodeError> {
        let value = self.expect(MAJOR_UINT, what)?;
        if value > max {
            return Err(DecodeError::TooLarge { what, size: value, max });
        }
        Ok(value)
    }

    /// A `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(self.uint(what, u32::MAX as u64)? as u32)
    }

    /// A byte string of at most `max` bytes (borrowed from the input).
    pub fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.expect(MAJOR_BYTES, what)?;
        if len > max as u64 {
            return Err(DecodeError::TooLarge { what, size: len, max: max as u64 });
        }
        self.take(len as usize)
    }

    /// A byte string of exactly `N` bytes.
    pub fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.bytes(what, N)?;
        bytes.try_into().map_err(|_| DecodeError::Invalid(what))
    }

    /// A UTF-8 text string of at most `max` bytes (borrowed from the input).
    pub fn text(&mut self, what: &'static str, max: usize) -> Result<&'a str, DecodeError> {
        let len = self.expect(MAJOR_TEXT, what)?;
        if len > max as u64 {
            return Err(DecodeError::TooLarge { what, size: len, max: max as u64 });
        }
        core::str::from_utf8(self.take(len as usize)?).map_err(|_| DecodeError::Invalid(what))
    }

    /// A text string or `null`.
    pub fn opt_text(&mut self, what: &'static str, max: usize) -> Result<Option<&'a str>, DecodeError> {
        if self.peek()? == NULL {
            self.pos += 1;
            return Ok(None);
        }
        self.text(what, max).map(Some)
    }

    /// `true` or `false`.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.take(1)?[0] {
            TRUE => Ok(true),
            FALSE => Ok(false),
            _ => {
                self.pos -= 1;
                Err(DecodeError::WrongType { expected: what })
            }
        }
    }

    /// The head of an array of `min..=max` items. Each item takes at least
    /// one byte, so a length beyond the remaining input is refused here,
    /// before any caller allocates for it.
    pub fn array(&mut self, what: &'static str, min: usize, max: usize) -> Result<usize, DecodeError> {
        let len = self.expect(MAJOR_ARRAY, what)?;
        if len > max as u64 {
            return Err(DecodeError::TooLarge { what, size: len, max: max as u64 });
        }
        if len > self.remaining() as u64 {
            return Err(DecodeError::Truncated);
        }
        if (len as usize) < min {
            return Err(DecodeError::Invalid(what));
        }
        Ok(len as usize)
    }

    /// Skips one complete item of any supported type (used for fields added
    /// by later protocol versions).
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Result<(), DecodeError> {
        if depth >= MAX_SKIP_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let (major, value) = self.head()?;
        match major {
            MAJOR_UINT | 1 => Ok(()),
            MAJOR_BYTES | MAJOR_TEXT => {
                let len = usize::try_from(value).map_err(|_| DecodeError::Truncated)?;
                self.take(len).map(|_| ())
            }
            MAJOR_ARRAY => {
                if value > self.remaining() as u64 {
                    return Err(DecodeError::Truncated);
                }
                for _ in 0..value {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            5 => {
                if value > (self.remaining() / 2) as u64 {
                    return Err(DecodeError::Truncated);
                }
                for _ in 0..value * 2 {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            6 => self.skip_at(depth + 1),
            // Simple values: false, true, null, undefined (the head already
            // took the extra bytes of floats).
            MAJOR_SIMPLE => Ok(()),
            _ => Err(DecodeError::WrongType { expected: "a CBOR item" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_use_the_shortest_form_and_round_trip() {
        for (value, len) in [(0u64, 1), (23, 1), (24, 2), (255, 2), (256, 3), (65_535, 3), (65_536, 5), (1 << 32, 9)] {
            let mut w = Writer::default();
            w.uint(value);
            let bytes = w.into_vec();
            assert_eq!(bytes.len(), len, "{value}");
            let mut r = Reader::new(&bytes);
            assert_eq!(r.uint("n", u64::MAX), Ok(value));
            r.finish().unwrap();
        }
    }

    #[test]
    fn non_shortest_and_indefinite_encodings_are_refused() {
        for bytes in [&[0x18, 0x05][..], &[0x19, 0x00, 0x10], &[0x1a, 0, 0, 0, 1], &[0x9f, 0xff], &[0x5f, 0xff]] {
            let mut r = Reader::new(bytes);
            let outcome = if bytes[0] >> 5 == 0 { r.uint("n", u64::MAX).map(|_| ()) } else { r.skip() };
            assert_eq!(outcome, Err(DecodeError::NonCanonical), "{bytes:02x?}");
        }
    }

    #[test]
    fn lengths_are_checked_before_anything_is_allocated() {
        // An array claiming 2^32 items in a 6-byte input.
        let mut r = Reader::new(&[0x9a, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert!(matches!(r.array("slots", 0, usize::MAX), Err(DecodeError::Truncated)));
        let mut r = Reader::new(&[0x85, 1, 2, 3, 4, 5]);
        assert!(matches!(r.array("slots", 0, 4), Err(DecodeError::TooLarge { size: 5, max: 4, .. })));
        let mut r = Reader::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(r.bytes("b", usize::MAX).is_err());
    }

    #[test]
    fn skip_follows_nesting_up_to_a_limit() {
        let mut w = Writer::default();
        w.array(2);
        w.text("x");
        w.array(1);
        w.bytes(&[1, 2]);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        r.skip().unwrap();
        r.finish().unwrap();
        let deep = [0x81u8; 20];
        assert_eq!(Reader::new(&deep).skip(), Err(DecodeError::TooDeep));
    }
}
