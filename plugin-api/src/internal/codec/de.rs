//! The decoder: a serde `Deserializer` reading CBOR straight from a byte slice.
//!
//! Owns: the serde glue over the item reader (`reader`): `Deserializer`'s
//! `serde::Deserializer` impl and its seq/map/enum accessors. It accepts what
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
use super::reader::{Deserializer, Result, invalid_type, utf8};
use super::tag::TagAccess;
use serde::de::{self, Visitor};

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
