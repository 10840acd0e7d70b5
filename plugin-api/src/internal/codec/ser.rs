//! The encoder: a serde `Serializer` appending CBOR to a `Vec<u8>`.
//!
//! Owns: [`Serializer`] and its compound serializers. The output is byte for
//! byte what `ciborium::into_writer` produces (tests check this for every
//! boundary type): shortest-form heads; `None`, `()` and unit structs as
//! `null`; unit variants as their name; newtype, tuple and struct variants
//! as a one-entry map `{name: payload}`; tuples and structs as definite
//! arrays and maps; sequences and maps of unknown length as indefinite
//! items; floats in the shortest exact width; 128-bit integers that do not
//! fit 64 bits as bignums; ciborium's `@@TAG@@` convention as CBOR tags.

use super::error::Error;
use super::head::*;
use super::tag::{TAG_ENUM, TAGGED, TagNumber, UNTAGGED};
use serde::ser::{self, Serialize};

type Result<T> = core::result::Result<T, Error>;

/// A CBOR serializer appending to a byte vector.
pub(crate) struct Serializer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Serializer<'a> {
    /// A serializer appending to `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    #[inline]
    fn text(&mut self, s: &str) {
        write_head(self.out, MAJOR_TEXT, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    /// A 128-bit magnitude: a plain integer if it fits, else a bignum.
    fn big(&mut self, negative: bool, raw: u128) {
        let major = if negative { MAJOR_NINT } else { MAJOR_UINT };
        if let Ok(small) = u64::try_from(raw) {
            write_head(self.out, major, small);
            return;
        }
        let bytes = raw.to_be_bytes();
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        write_head(self.out, MAJOR_TAG, if negative { TAG_BIGNEG } else { TAG_BIGPOS });
        write_head(self.out, MAJOR_BYTES, (bytes.len() - first) as u64);
        self.out.extend_from_slice(&bytes[first..]);
    }
}

impl<'s, 'a> ser::Serializer for &'s mut Serializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = Compound<'s, 'a>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = Compound<'s, 'a>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.push(if v { 0xf5 } else { 0xf4 });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(v.into())
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<()> {
        if v < 0 {
            write_head(self.out, MAJOR_NINT, (v ^ !0) as u64);
        } else {
            write_head(self.out, MAJOR_UINT, v as u64);
        }
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<()> {
        if v < 0 {
            self.big(true, (v ^ !0) as u128);
        } else {
            self.big(false, v as u128);
        }
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_u64(v.into())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<()> {
        write_head(self.out, MAJOR_UINT, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<()> {
        self.big(false, v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<()> {
        self.serialize_f64(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        write_float(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.text(v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        self.text(v);
        Ok(())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        write_head(self.out, MAJOR_BYTES, v.len() as u64);
        self.out.extend_from_slice(v);
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result<()> {
        self.out.push(0xf6);
        Ok(())
    }

    #[inline]
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.serialize_none()
    }

    #[inline]
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<()> {
        self.text(variant);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        if name != TAG_ENUM || variant != UNTAGGED {
            write_head(self.out, MAJOR_MAP, 1);
            self.text(variant);
        }
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'s, 'a>> {
        match len {
            Some(len) => write_head(self.out, MAJOR_ARRAY, len as u64),
            None => self.out.push(0x9f),
        }
        Ok(Compound { ser: self, indefinite: len.is_none(), tag_next: false })
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, 'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'s, 'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'a>> {
        if name == TAG_ENUM && variant == TAGGED {
            return Ok(Compound { ser: self, indefinite: false, tag_next: true });
        }
        write_head(self.out, MAJOR_MAP, 1);
        self.text(variant);
        write_head(self.out, MAJOR_ARRAY, len as u64);
        Ok(Compound { ser: self, indefinite: false, tag_next: false })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'s, 'a>> {
        match len {
            Some(len) => write_head(self.out, MAJOR_MAP, len as u64),
            None => self.out.push(0xbf),
        }
        Ok(Compound { ser: self, indefinite: len.is_none(), tag_next: false })
    }

    #[inline]
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'s, 'a>> {
        write_head(self.out, MAJOR_MAP, len as u64);
        Ok(Compound { ser: self, indefinite: false, tag_next: false })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'a>> {
        write_head(self.out, MAJOR_MAP, 1);
        self.text(variant);
        write_head(self.out, MAJOR_MAP, len as u64);
        Ok(Compound { ser: self, indefinite: false, tag_next: false })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The serializer of arrays, maps, structs and variants with fields.
pub(crate) struct Compound<'s, 'a> {
    ser: &'s mut Serializer<'a>,
    /// Whether `end` writes a break code.
    indefinite: bool,
    /// Whether the next field is the tag number of a `@@TAGGED@@` variant.
    tag_next: bool,
}

impl Compound<'_, '_> {
    #[inline]
    fn end(self) {
        if self.indefinite {
            self.ser.out.push(BREAK);
        }
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn end(self) -> Result<()> {
        Compound::end(self);
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn end(self) -> Result<()> {
        Compound::end(self);
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<()> {
        Compound::end(self);
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        if self.tag_next {
            self.tag_next = false;
            let tag = value.serialize(TagNumber)?;
            write_head(self.ser.out, MAJOR_TAG, tag);
            return Ok(());
        }
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<()> {
        Compound::end(self);
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        key.serialize(&mut *self.ser)
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<()> {
        Compound::end(self);
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.ser.text(key);
        value.serialize(&mut *self.ser)
    }

    #[inline]
    fn end(self) -> Result<()> {
        Compound::end(self);
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.ser.text(key);
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<()> {
        Compound::end(self);
        Ok(())
    }
}
