//! The decoder: a serde `Deserializer` reading CBOR straight from a byte slice.
//!
//! Owns: [`Deserializer`] and its seq/map/enum accessors. It accepts what
//! ciborium's deserializer accepts for the types that cross the boundary
//! (tags are skipped in front of typed items, `null` and `undefined` are both
//! "none", byte strings may come as arrays of integers and vice versa,
//! bignums fill integers, indefinite-length items are allowed), but borrows
//! strings and byte strings from the input instead of copying them through a
//! scratch buffer, and skips ignored items without calling a visitor.
//!
//! Hostile input is expected. The decoder never panics, never reserves
//! memory for a length the remaining input cannot hold (every item needs at
//! least one byte), limits nesting to [`MAX_DEPTH`] levels, and reports the
//! byte offset and what it expected in every error it raises itself.

use super::error::Error;
use super::head::*;
use super::tag::TagAccess;
use serde::de::{self, Unexpected, Visitor};

/// Deepest nesting of arrays, maps and tags the decoder accepts (ciborium's
/// default recursion limit).
pub const MAX_DEPTH: u32 = 256;

type Result<T> = core::result::Result<T, Error>;

/// A CBOR deserializer over a borrowed byte slice.
pub(crate) struct Deserializer<'de> {
    input: &'de [u8],
    pos: usize,
    /// Levels of nesting still allowed.
    depth: u32,
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
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Fast path for the common heads: if the next item has major type
    /// `major` and an argument of at most two bytes (no tag, not
    /// indefinite), consumes its head and returns the argument. Anything
    /// else (including truncated input) returns `None` and consumes nothing,
    /// leaving the general path to handle it and report errors.
    #[inline(always)]
    fn small_head(&mut self, major: u8) -> Option<u64> {
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
    fn argument_bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
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
    fn head(&mut self) -> Result<Head> {
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
    fn peek_head(&mut self) -> Result<Head> {
        let start = self.pos;
        let head = self.head();
        self.pos = start;
        head
    }

    /// Reads the next head, skipping any tags in front of it (as ciborium
    /// does for every typed item). Returns the head and its offset.
    #[inline]
    fn untagged_head(&mut self) -> Result<(Head, usize)> {
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
    fn take(&mut self, len: u64, start: usize, what: &str) -> Result<&'de [u8]> {
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
    fn chunks(&mut self, text: bool, start: usize) -> Result<Vec<u8>> {
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
    fn nested<T>(&mut self, start: usize, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
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
    fn check_items(&self, len: u64, per_item: u64, start: usize, what: &str) -> Result<()> {
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
    fn eat_break(&mut self) -> Result<bool> {
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
    fn skip(&mut self) -> Result<()> {
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

    fn skip_items(&mut self, len: Option<u64>, per_item: u64, start: usize, what: &str) -> Result<()> {
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
    fn integer(&mut self) -> Result<(bool, u128, usize)> {
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
    fn visit_tag<V: Visitor<'de>>(&mut self, tag: u64, start: usize, visitor: V) -> Result<V::Value> {
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
fn utf8(bytes: &[u8], start: usize) -> Result<&str> {
    // Field and variant names are short ASCII: check those inline.
    if bytes.len() <= 16 && bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    core::str::from_utf8(bytes).map_err(|e| Error::at(start, format_args!("invalid UTF-8 in text string: {e}")))
}

/// A big-endian bignum of at most 16 significant bytes.
fn bignum(bytes: &[u8], start: usize) -> Result<u128> {
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
fn invalid_type(head: Head, start: usize, expected: &dyn de::Expected) -> Error {
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

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        match self.head()? {
            Head::Uint(v) => visitor.visit_u64(v),
            Head::Nint(v) => match i64::try_from(v) {
                Ok(v) => visitor.visit_i64(v ^ !0),
                Err(_) => visitor.visit_i128(i128::from(v) ^ !0),
            },
            Head::Bytes(Some(len)) => visitor.visit_borrowed_bytes(self.take(len, start, "byte string")?),
            Head::Bytes(None) => visitor.visit_byte_buf(self.chunks(false, start)?),
            Head::Text(Some(len)) => {
                let bytes = self.take(len, start, "text string")?;
                visitor.visit_borrowed_str(utf8(bytes, start)?)
            }
            Head::Text(None) => {
                let bytes = self.chunks(true, start)?;
                // Every chunk was checked, so the concatenation is UTF-8 too.
                match String::from_utf8(bytes) {
                    Ok(s) => visitor.visit_string(s),
                    Err(e) => Err(Error::at(start, format_args!("invalid UTF-8 in text string: {e}"))),
                }
            }
            Head::Array(len) => self.visit_array(len, start, visitor),
            Head::Map(len) => self.visit_map_items(len, start, visitor),
            Head::Tag(tag) => self.visit_tag(tag, start, visitor),
            Head::Float(v) => visitor.visit_f64(v),
            Head::Simple(FALSE) => visitor.visit_bool(false),
            Head::Simple(TRUE) => visitor.visit_bool(true),
            Head::Simple(NULL | UNDEFINED) => visitor.visit_none(),
            head @ Head::Simple(_) => Err(invalid_type(head, start, &"a known simple value")),
            Head::Break => Err(Error::at(start, "malformed CBOR: unexpected break code")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.input.get(self.pos) {
            Some(0xf4) => {
                self.pos += 1;
                return visitor.visit_bool(false);
            }
            Some(0xf5) => {
                self.pos += 1;
                return visitor.visit_bool(true);
            }
            _ => {}
        }
        match self.untagged_head()? {
            (Head::Simple(FALSE), _) => visitor.visit_bool(false),
            (Head::Simple(TRUE), _) => visitor.visit_bool(true),
            (head, start) => Err(invalid_type(head, start, &"a boolean")),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Some(v) = self.small_head(MAJOR_UINT) {
            return visitor.visit_i64(v as i64);
        }
        if let Some(v) = self.small_head(MAJOR_NINT) {
            return visitor.visit_i64(-1 - v as i64);
        }
        let (negative, raw, start) = self.integer()?;
        let value = if negative { i64::try_from(raw).map(|v| v ^ !0) } else { i64::try_from(raw) };
        match value {
            Ok(v) => visitor.visit_i64(v),
            Err(_) => Err(Error::at(start, "integer too large for i64")),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (negative, raw, start) = self.integer()?;
        let value = if negative { i128::try_from(raw).map(|v| v ^ !0) } else { i128::try_from(raw) };
        match value {
            Ok(v) => visitor.visit_i128(v),
            Err(_) => Err(Error::at(start, "integer too large for i128")),
        }
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Some(v) = self.small_head(MAJOR_UINT) {
            return visitor.visit_u64(v);
        }
        let (negative, raw, start) = self.integer()?;
        if negative {
            return Err(Error::at(start, "unexpected negative integer, expected an unsigned integer"));
        }
        match u64::try_from(raw) {
            Ok(v) => visitor.visit_u64(v),
            Err(_) => Err(Error::at(start, "integer too large for u64")),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let (negative, raw, start) = self.integer()?;
        if negative {
            return Err(Error::at(start, "unexpected negative integer, expected an unsigned integer"));
        }
        visitor.visit_u128(raw)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.untagged_head()? {
            (Head::Float(v), _) => visitor.visit_f64(v),
            (head, start) => Err(invalid_type(head, start, &"a float")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.untagged_head()? {
            (Head::Text(Some(len)), start) if len <= 4 => {
                let s = utf8(self.take(len, start, "text string")?, start)?;
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => visitor.visit_char(c),
                    _ => Err(Error::at(start, format_args!("invalid value: string {s:?}, expected a character"))),
                }
            }
            (head, start) => Err(invalid_type(head, start, &"a character")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        if let Some(len) = self.small_head(MAJOR_TEXT) {
            let bytes = self.take(len, start, "text string")?;
            return visitor.visit_borrowed_str(utf8(bytes, start)?);
        }
        match self.untagged_head()? {
            (Head::Text(Some(len)), start) => {
                let bytes = self.take(len, start, "text string")?;
                visitor.visit_borrowed_str(utf8(bytes, start)?)
            }
            (Head::Text(None), start) => {
                let bytes = self.chunks(true, start)?;
                match String::from_utf8(bytes) {
                    Ok(s) => visitor.visit_string(s),
                    Err(e) => Err(Error::at(start, format_args!("invalid UTF-8 in text string: {e}"))),
                }
            }
            (head, start) => Err(invalid_type(head, start, &"a text string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        if let Some(len) = self.small_head(MAJOR_BYTES) {
            return visitor.visit_borrowed_bytes(self.take(len, start, "byte string")?);
        }
        match self.untagged_head()? {
            (Head::Bytes(Some(len)), start) => visitor.visit_borrowed_bytes(self.take(len, start, "byte string")?),
            (Head::Bytes(None), start) => visitor.visit_byte_buf(self.chunks(false, start)?),
            (Head::Array(len), start) => self.visit_array(len, start, visitor),
            // Config tables come from TOML, which has no byte strings: a
            // value that is bytes in binary form (an address) arrives as
            // text there. The visitor decides whether text is acceptable.
            (Head::Text(Some(len)), start) => {
                let bytes = self.take(len, start, "text string")?;
                visitor.visit_borrowed_str(utf8(bytes, start)?)
            }
            (head, start) => Err(invalid_type(head, start, &"a byte string")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.input.get(self.pos) {
            Some(0xf6 | 0xf7) => {
                self.pos += 1;
                visitor.visit_none()
            }
            // The two-byte form of null/undefined (0xf8 0x16/0x17) is legal too.
            Some(0xf8) if matches!(self.input.get(self.pos + 1), Some(&(NULL | UNDEFINED))) => {
                self.pos += 2;
                visitor.visit_none()
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.untagged_head()? {
            (Head::Simple(NULL | UNDEFINED), _) => visitor.visit_unit(),
            (head, start) => Err(invalid_type(head, start, &"null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        if let Some(len) = self.small_head(MAJOR_ARRAY) {
            return self.visit_array(Some(len), start, visitor);
        }
        match self.untagged_head()? {
            (Head::Array(len), start) => self.visit_array(len, start, visitor),
            (Head::Bytes(Some(len)), start) => {
                let bytes = self.take(len, start, "byte string")?;
                visitor.visit_seq(de::value::SeqDeserializer::new(bytes.iter().copied()))
            }
            (Head::Bytes(None), start) => {
                let bytes = self.chunks(false, start)?;
                visitor.visit_seq(de::value::SeqDeserializer::new(bytes.into_iter()))
            }
            (head, start) => Err(invalid_type(head, start, &"an array")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        if let Some(len) = self.small_head(MAJOR_MAP) {
            return self.visit_map_items(Some(len), start, visitor);
        }
        match self.untagged_head()? {
            (Head::Map(len), start) => self.visit_map_items(len, start, visitor),
            (head, start) => Err(invalid_type(head, start, &"a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let start = self.pos;
        if name == super::tag::TAG_ENUM {
            let tag = match self.peek_head()? {
                Head::Tag(tag) => {
                    self.head()?;
                    Some(tag)
                }
                _ => None,
            };
            return self.nested(start, |de| visitor.visit_enum(TagAccess::new(de, tag)));
        }
        let (head, start) = self.untagged_head()?;
        let wrapped = match head {
            Head::Map(Some(1)) => true,
            Head::Text(_) => {
                self.pos = start;
                false
            }
            head => return Err(invalid_type(head, start, &"an enum (a variant name or a one-entry map)")),
        };
        self.nested(start, |de| visitor.visit_enum(Enum { de, wrapped }))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        if let Some(len) = self.small_head(MAJOR_TEXT) {
            let bytes = self.take(len, start, "text string")?;
            return visitor.visit_borrowed_str(utf8(bytes, start)?);
        }
        match self.untagged_head()? {
            (Head::Text(Some(len)), start) => {
                let bytes = self.take(len, start, "text string")?;
                visitor.visit_borrowed_str(utf8(bytes, start)?)
            }
            (Head::Bytes(Some(len)), start) => visitor.visit_borrowed_bytes(self.take(len, start, "byte string")?),
            (head, start) => Err(invalid_type(head, start, &"a field or variant name")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl<'de> Deserializer<'de> {
    /// Visits an array whose head (at `start`) was just read.
    #[inline(always)]
    fn visit_array<V: Visitor<'de>>(&mut self, len: Option<u64>, start: usize, visitor: V) -> Result<V::Value> {
        if let Some(len) = len {
            self.check_items(len, 1, start, "array")?;
        }
        self.nested(start, |de| {
            let mut access = Items { de, left: len };
            let value = visitor.visit_seq(&mut access)?;
            access.finish(start, "array")?;
            Ok(value)
        })
    }

    /// Visits a map whose head (at `start`) was just read.
    #[inline(always)]
    fn visit_map_items<V: Visitor<'de>>(&mut self, len: Option<u64>, start: usize, visitor: V) -> Result<V::Value> {
        if let Some(len) = len {
            self.check_items(len, 2, start, "map")?;
        }
        self.nested(start, |de| {
            let mut access = Items { de, left: len };
            let value = visitor.visit_map(&mut access)?;
            access.finish(start, "map")?;
            Ok(value)
        })
    }
}

/// The items of an array or the entries of a map.
struct Items<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    /// Items still to read, or `None` for an indefinite-length container.
    left: Option<u64>,
}

impl Items<'_, '_> {
    /// Whether another item follows (consumes the break code if not).
    #[inline]
    fn has_next(&mut self) -> Result<bool> {
        match &mut self.left {
            Some(0) => Ok(false),
            Some(n) => {
                *n -= 1;
                Ok(true)
            }
            None => {
                if self.de.eat_break()? {
                    // The break is consumed: the container has ended.
                    self.left = Some(0);
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }

    /// Fails if the visitor stopped before the end of the container.
    #[inline]
    fn finish(&mut self, start: usize, what: &str) -> Result<()> {
        match self.left {
            Some(0) => Ok(()),
            None if self.de.eat_break()? => Ok(()),
            _ => Err(Error::at(start, format_args!("invalid length: the {what} has more entries than expected"))),
        }
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        // Never promise more items than the remaining input could hold.
        self.left.map(|n| n.min(self.de.remaining() as u64) as usize)
    }
}

impl<'de> de::SeqAccess<'de> for &mut Items<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.has_next()? { seed.deserialize(&mut *self.de).map(Some) } else { Ok(None) }
    }

    fn size_hint(&self) -> Option<usize> {
        Items::size_hint(self)
    }
}

impl<'de> de::MapAccess<'de> for &mut Items<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.has_next()? { seed.deserialize(&mut *self.de).map(Some) } else { Ok(None) }
    }

    #[inline]
    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Items::size_hint(self)
    }
}

/// An externally tagged serde enum: either a variant name (unit variants)
/// or a one-entry map `{name: payload}`.
struct Enum<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    /// Whether the variant came as a one-entry map.
    wrapped: bool,
}

impl<'de> de::EnumAccess<'de> for Enum<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: de::DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'de> Enum<'_, 'de> {
    fn payload(&self) -> Result<()> {
        if self.wrapped {
            Ok(())
        } else {
            Err(Error::at(self.de.pos, "expected a one-entry map {variant: payload} for an enum variant with data"))
        }
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        if self.wrapped { de::Deserialize::deserialize(&mut *self.de) } else { Ok(()) }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        self.payload()?;
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.payload()?;
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
        self.payload()?;
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }
}
