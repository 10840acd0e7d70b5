//! The CBOR item reader under the decoder: heads, lengths, chunks, tags,
//! skipping, nesting depth and the byte offsets errors name.
//!
//! Owns: [`Deserializer`]'s cursor over the input and every check on what
//! the input claims (a length the remaining input cannot hold, nesting
//! beyond [`MAX_DEPTH`], invalid UTF-8, oversized bignums). Knows nothing
//! about serde's data model; `de` maps items onto it.

use super::error::Error;
use super::head::*;
use super::tag::TagAccess;
use serde::de::{self, Unexpected, Visitor};

/// Deepest nesting of arrays, maps and tags the decoder accepts (ciborium's
/// default recursion limit).
pub const MAX_DEPTH: u32 = 256;

pub(super) type Result<T> = core::result::Result<T, Error>;

/// A CBOR deserializer over a borrowed byte slice.
pub(crate) struct Deserializer<'de> {
    pub(super) input: &'de [u8],
    pub(super) pos: usize,
    /// Levels of nesting still allowed.
    pub(super) depth: u32,
}

impl<'de> Deserializer<'de> {
    /// A deserializer positioned at the start of `input`.
    pub(crate) fn new(input: &'de [u8]) -> Self {
        Self { input, pos: 0, depth: MAX_DEPTH }
    }

    /// The current byte offset.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    #[inline]
    pub(super) fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Fast path for the common heads: if the next item has major type
    /// `major` and an argument of at most two bytes (no tag, not
    /// indefinite), consumes its head and returns the argument. Anything
    /// else (including truncated input) returns `None` and consumes nothing,
    /// leaving the general path to handle it and report errors.
    #[inline(always)]
    pub(super) fn small_head(&mut self, major: u8) -> Option<u64> {
        let initial = *self.input.get(self.pos)?;
        if initial >> 5 != major {
            return None;
        }
        match initial & 0x1f {
            info @ 0..=23 => {
                self.pos += 1;
                Some(u64::from(info))
            }
            24 => {
                let v = *self.input.get(self.pos + 1)?;
                self.pos += 2;
                Some(u64::from(v))
            }
            25 => {
                let b = self.input.get(self.pos + 1..self.pos + 3)?;
                let v = u16::from_be_bytes([b[0], b[1]]);
                self.pos += 3;
                Some(u64::from(v))
            }
            _ => None,
        }
    }

    /// Reads `n` argument bytes as a big-endian integer.
    #[inline]
    pub(super) fn argument_bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let end = self.pos + N;
        match self.input.get(self.pos..end) {
            Some(slice) => {
                let mut bytes = [0u8; N];
                bytes.copy_from_slice(slice);
                self.pos = end;
                Ok(bytes)
            }
            None => Err(Error::truncated(self.input.len(), what)),
        }
    }

    /// Reads one item head.
    #[inline]
    pub(super) fn head(&mut self) -> Result<Head> {
        let start = self.pos;
        let Some(&initial) = self.input.get(start) else {
            return Err(Error::truncated(start, "an item"));
        };
        self.pos += 1;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let argument: Option<u64> = match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(u64::from(self.argument_bytes::<1>("an item head")?[0])),
            25 => {
                let b = self.argument_bytes::<2>("an item head")?;
                if major == MAJOR_SIMPLE {
                    return Ok(Head::Float(f64::from(half::f16::from_be_bytes(b))));
                }
                Some(u64::from(u16::from_be_bytes(b)))
            }
            26 => {
                let b = self.argument_bytes::<4>("an item head")?;
                if major == MAJOR_SIMPLE {
                    return Ok(Head::Float(f64::from(f32::from_be_bytes(b))));
                }
                Some(u64::from(u32::from_be_bytes(b)))
            }
            27 => {
                let b = self.argument_bytes::<8>("an item head")?;
                if major == MAJOR_SIMPLE {
                    return Ok(Head::Float(f64::from_be_bytes(b)));
                }
                Some(u64::from_be_bytes(b))
            }
            28..=30 => {
                return Err(Error::at(start, format_args!("malformed CBOR: reserved additional information {info}")));
            }
            _ => None,
        };
        Ok(match (major, argument) {
            (MAJOR_UINT, Some(v)) => Head::Uint(v),
            (MAJOR_NINT, Some(v)) => Head::Nint(v),
            (MAJOR_BYTES, len) => Head::Bytes(len),
            (MAJOR_TEXT, len) => Head::Text(len),
            (MAJOR_ARRAY, len) => Head::Array(len),
            (MAJOR_MAP, len) => Head::Map(len),
            (MAJOR_TAG, Some(v)) => Head::Tag(v),
            // Arguments of major type 7 are at most one byte here (floats returned above).
            (MAJOR_SIMPLE, Some(v)) => Head::Simple(v as u8),
            (MAJOR_SIMPLE, None) => Head::Break,
            _ => {
                return Err(Error::at(start, "malformed CBOR: indefinite length on an integer or tag"));
            }
        })
    }

    /// Reads the next head without consuming it.
    #[inline]
    pub(super) fn peek_head(&mut self) -> Result<Head> {
        let start = self.pos;
        let head = self.head();
        self.pos = start;
        head
    }

    /// Reads the next head, skipping any tags in front of it (as ciborium
    /// does for every typed item). Returns the head and its offset.
    #[inline]
    pub(super) fn untagged_head(&mut self) -> Result<(Head, usize)> {
        loop {
            let start = self.pos;
            match self.head()? {
                Head::Tag(_) => continue,
                head => return Ok((head, start)),
            }
        }
    }

    /// Consumes `len` bytes of string content and returns them.
    #[inline]
    pub(super) fn take(&mut self, len: u64, start: usize, what: &str) -> Result<&'de [u8]> {
        if len > self.remaining() as u64 {
            return Err(Error::at(
                start,
                format_args!("truncated input: {what} of {len} bytes, but only {} bytes remain", self.remaining()),
            ));
        }
        let end = self.pos + len as usize;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Reads the chunks of an indefinite-length byte or text string (whose
    /// head starting at `start` was just read) into one buffer. Every chunk
    /// must be a definite-length string of the same major type; text chunks
    /// must each be valid UTF-8. The buffer never outgrows the input.
    pub(super) fn chunks(&mut self, text: bool, start: usize) -> Result<Vec<u8>> {
        let what = if text { "text chunk" } else { "byte string chunk" };
        let mut buffer = Vec::new();
        loop {
            let chunk_start = self.pos;
            match self.head()? {
                Head::Break => return Ok(buffer),
                Head::Bytes(Some(len)) if !text => buffer.extend_from_slice(self.take(len, chunk_start, what)?),
                Head::Text(Some(len)) if text => {
                    let bytes = self.take(len, chunk_start, what)?;
                    utf8(bytes, chunk_start)?;
                    buffer.extend_from_slice(bytes);
                }
                other => {
                    return Err(Error::at(
                        chunk_start,
                        format_args!(
                            "malformed CBOR: {} inside the indefinite-length string at byte {start}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
    }

    /// Runs `f` one nesting level deeper, failing past [`MAX_DEPTH`].
    #[inline(always)]
    pub(super) fn nested<T>(&mut self, start: usize, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth == 0 {
            return Err(Error::at(start, format_args!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.depth -= 1;
        let result = f(self);
        self.depth += 1;
        result
    }

    /// Checks that a definite container of `len` items (`per_item` heads
    /// each) can fit in the remaining input, before anything is reserved.
    #[inline]
    pub(super) fn check_items(&self, len: u64, per_item: u64, start: usize, what: &str) -> Result<()> {
        if len.saturating_mul(per_item) > self.remaining() as u64 {
            return Err(Error::at(
                start,
                format_args!(
                    "truncated input: {what} of {len} entries cannot fit in the {} bytes that remain",
                    self.remaining()
                ),
            ));
        }
        Ok(())
    }

    /// Whether the next byte is a break code; consumes it if so.
    #[inline]
    pub(super) fn eat_break(&mut self) -> Result<bool> {
        match self.input.get(self.pos) {
            Some(&BREAK) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(Error::truncated(self.pos, "an indefinite-length item")),
        }
    }

    /// Skips one complete item, checking that it is well-formed (text must
    /// be UTF-8, as ciborium also checks when it skips).
    pub(super) fn skip(&mut self) -> Result<()> {
        let start = self.pos;
        match self.head()? {
            Head::Uint(_) | Head::Nint(_) | Head::Simple(_) | Head::Float(_) => Ok(()),
            Head::Bytes(Some(len)) => self.take(len, start, "byte string").map(|_| ()),
            Head::Text(Some(len)) => {
                let bytes = self.take(len, start, "text string")?;
                utf8(bytes, start).map(|_| ())
            }
            Head::Bytes(None) => self.chunks(false, start).map(|_| ()),
            Head::Text(None) => self.chunks(true, start).map(|_| ()),
            Head::Array(len) => self.nested(start, |de| de.skip_items(len, 1, start, "array")),
            Head::Map(len) => self.nested(start, |de| de.skip_items(len, 2, start, "map")),
            Head::Tag(_) => self.nested(start, |de| de.skip()),
            Head::Break => Err(Error::at(start, "malformed CBOR: unexpected break code")),
        }
    }

    pub(super) fn skip_items(&mut self, len: Option<u64>, per_item: u64, start: usize, what: &str) -> Result<()> {
        match len {
            Some(len) => {
                self.check_items(len, per_item, start, what)?;
                for _ in 0..len * per_item {
                    self.skip()?;
                }
            }
            None => {
                while !self.eat_break()? {
                    for _ in 0..per_item {
                        self.skip()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads an integer, skipping tags and accepting bignums (tags 2 and 3)
    /// of up to 16 bytes. Returns `(negative, raw)` where a negative value is
    /// `-1 - raw`.
    pub(super) fn integer(&mut self) -> Result<(bool, u128, usize)> {
        loop {
            let start = self.pos;
            let negative = match self.head()? {
                Head::Uint(v) => return Ok((false, u128::from(v), start)),
                Head::Nint(v) => return Ok((true, u128::from(v), start)),
                Head::Tag(TAG_BIGPOS) => false,
                Head::Tag(TAG_BIGNEG) => true,
                Head::Tag(_) => continue,
                other => return Err(invalid_type(other, start, &"integer")),
            };
            let bytes_start = self.pos;
            let raw = match self.head()? {
                Head::Bytes(Some(len)) => bignum(self.take(len, bytes_start, "bignum")?, bytes_start)?,
                Head::Bytes(None) => bignum(&self.chunks(false, bytes_start)?, bytes_start)?,
                other => return Err(invalid_type(other, bytes_start, &"bignum bytes")),
            };
            return Ok((negative, raw, start));
        }
    }

    /// `deserialize_any` for a tag that is not a small bignum: hands the
    /// visitor ciborium's `@@TAG@@` enum view of it.
    pub(super) fn visit_tag<V: Visitor<'de>>(&mut self, tag: u64, start: usize, visitor: V) -> Result<V::Value> {
        let small_bignum = (tag == TAG_BIGPOS || tag == TAG_BIGNEG)
            && matches!(self.peek_head(), Ok(Head::Bytes(Some(len))) if len <= 16);
        if small_bignum {
            self.pos = start;
            let (negative, raw, _) = self.integer()?;
            return if negative {
                match i128::try_from(raw) {
                    Ok(v) => visitor.visit_i128(v ^ !0),
                    Err(_) => Err(Error::at(start, "integer too large")),
                }
            } else {
                visitor.visit_u128(raw)
            };
        }
        self.nested(start, |de| visitor.visit_enum(TagAccess::new(de, Some(tag))))
    }
}

/// Validates UTF-8, reporting the offset of the string on failure.
#[inline]
pub(super) fn utf8(bytes: &[u8], start: usize) -> Result<&str> {
    // Field and variant names are short ASCII: check those inline.
    if bytes.len() <= 16 && bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    core::str::from_utf8(bytes).map_err(|e| Error::at(start, format_args!("invalid UTF-8 in text string: {e}")))
}

/// A big-endian bignum of at most 16 significant bytes.
pub(super) fn bignum(bytes: &[u8], start: usize) -> Result<u128> {
    let significant = match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None => &[],
    };
    if significant.len() > 16 {
        return Err(Error::at(start, "bignum too large"));
    }
    Ok(significant.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b)))
}

/// "invalid type: X, expected Y" at `start`.
#[cold]
pub(super) fn invalid_type(head: Head, start: usize, expected: &dyn de::Expected) -> Error {
    let unexpected = match head {
        Head::Uint(v) => Unexpected::Unsigned(v),
        Head::Nint(v) => match i64::try_from(v) {
            Ok(v) => Unexpected::Signed(v ^ !0),
            Err(_) => Unexpected::Other("a negative integer"),
        },
        Head::Simple(FALSE) => Unexpected::Bool(false),
        Head::Simple(TRUE) => Unexpected::Bool(true),
        Head::Float(v) => Unexpected::Float(v),
        Head::Array(_) => Unexpected::Seq,
        Head::Map(_) => Unexpected::Map,
        other => Unexpected::Other(other.describe()),
    };
    Error::at(start, format_args!("invalid type: {unexpected}, expected {expected}"))
}
