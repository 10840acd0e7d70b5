//! ciborium's serde convention for CBOR tags, so that `ciborium::tag::*`
//! and `ciborium::Value` (which a plugin may use in its config or state)
//! go through this codec unchanged.
//!
//! Owns: the `@@TAG@@` names, [`TagAccess`] (how the decoder presents a tag
//! to a visitor: an enum with variants `@@TAGGED@@(tag, value)` and
//! `@@UNTAGGED@@(value)`) and [`TagNumber`] (how the encoder takes the tag
//! number out of a `@@TAGGED@@` tuple variant). None of the boundary types
//! use tags; this exists only for fidelity with the reference codec.

use super::error::Error;
use super::reader::Deserializer;
use serde::de::{self, Error as _, Visitor};
use serde::forward_to_deserialize_any;
use serde::ser;

/// The enum name ciborium uses for tagged values.
pub(crate) const TAG_ENUM: &str = "@@TAG@@";
/// The variant of a value with a tag: `(tag, value)`.
pub(crate) const TAGGED: &str = "@@TAGGED@@";
/// The variant of a value without a tag: `(value)`.
pub(crate) const UNTAGGED: &str = "@@UNTAGGED@@";

/// A tag (or its absence) seen through serde's enum interface.
pub(crate) struct TagAccess<'a, 'de> {
    parent: Option<&'a mut Deserializer<'de>>,
    state: usize,
    tag: Option<u64>,
}

impl<'a, 'de> TagAccess<'a, 'de> {
    /// Presents the item at the parent's position, tagged with `tag`.
    pub(crate) fn new(parent: &'a mut Deserializer<'de>, tag: Option<u64>) -> Self {
        Self { parent: Some(parent), state: 0, tag }
    }

    fn parent(&mut self) -> Result<&'a mut Deserializer<'de>, Error> {
        self.parent.take().ok_or_else(|| Error::custom("tagged value read twice"))
    }
}

impl<'de> de::Deserializer<'de> for &mut TagAccess<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.state += 1;
        match (self.state, self.tag) {
            (1, Some(_)) => visitor.visit_str(TAGGED),
            (1, None) => visitor.visit_str(UNTAGGED),
            (_, Some(tag)) => visitor.visit_u64(tag),
            (_, None) => Err(Error::custom("expected tag")),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'a, 'de> de::EnumAccess<'de> for TagAccess<'a, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: de::DeserializeSeed<'de>>(mut self, seed: V) -> Result<(V::Value, Self), Error> {
        let variant = seed.deserialize(&mut self)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for TagAccess<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Err(Error::custom("expected tag"))
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(mut self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.parent()?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(self)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], _visitor: V) -> Result<V::Value, Error> {
        Err(Error::custom("expected tag"))
    }
}

impl<'de> de::SeqAccess<'de> for TagAccess<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        if self.state < 2 {
            return seed.deserialize(&mut *self).map(Some);
        }
        match self.parent.take() {
            Some(parent) => seed.deserialize(parent).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(match self.state {
            0 => 2,
            1 => 1,
            _ => 0,
        })
    }
}

/// A serializer that accepts only an unsigned integer: the tag number of a
/// `@@TAGGED@@` tuple variant.
pub(crate) struct TagNumber;

fn not_a_tag<T>() -> Result<T, Error> {
    Err(<Error as ser::Error>::custom("expected tag"))
}

impl ser::Serializer for TagNumber {
    type Ok = u64;
    type Error = Error;
    type SerializeSeq = ser::Impossible<u64, Error>;
    type SerializeTuple = ser::Impossible<u64, Error>;
    type SerializeTupleStruct = ser::Impossible<u64, Error>;
    type SerializeTupleVariant = ser::Impossible<u64, Error>;
    type SerializeMap = ser::Impossible<u64, Error>;
    type SerializeStruct = ser::Impossible<u64, Error>;
    type SerializeStructVariant = ser::Impossible<u64, Error>;

    fn serialize_u8(self, v: u8) -> Result<u64, Error> {
        Ok(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<u64, Error> {
        Ok(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<u64, Error> {
        Ok(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<u64, Error> {
        Ok(v)
    }
    fn serialize_bool(self, _: bool) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_i8(self, _: i8) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_i16(self, _: i16) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_i32(self, _: i32) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_i64(self, _: i64) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_i128(self, _: i128) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_u128(self, _: u128) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_f32(self, _: f32) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_f64(self, _: f64) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_char(self, _: char) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_str(self, _: &str) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_none(self) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_some<T: ?Sized + ser::Serialize>(self, _: &T) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_unit(self) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_newtype_struct<T: ?Sized + ser::Serialize>(self, _: &'static str, _: &T) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_newtype_variant<T: ?Sized + ser::Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u64, Error> {
        not_a_tag()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        not_a_tag()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        not_a_tag()
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        not_a_tag()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        not_a_tag()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        not_a_tag()
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        not_a_tag()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        not_a_tag()
    }
}
