//! The one encoding rule for every open-ended enum that crosses the boundary.
//!
//! Owns: the `tagged_enum!` macro. A value is encoded as a CBOR array
//! `[tag, body]`, where `tag` is a small unsigned integer fixed forever for
//! that variant and `body` is the variant's payload (usually a map with named
//! fields). Decoders turn a tag they do not know into `Unknown(tag)` instead of
//! failing, which is what lets a later ABI minor add variants: plugins ignore
//! unknown events, the host refuses unknown actions with an error event.

/// Defines an enum whose variants each carry one payload type, plus an
/// `Unknown(u32)` variant, encoded as `[tag, body]` (see the module docs).
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($body:ty) = $tag:literal, )*
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant($body), )*
            /// A variant added by an ABI minor this build does not know. Carries
            /// the wire tag; the body was skipped while decoding.
            Unknown(u32),
        }

        impl $name {
            /// The wire tag of this variant (stable across all ABI v1 minors).
            pub fn tag(&self) -> u32 {
                match self {
                    $( $name::$variant(_) => $tag, )*
                    $name::Unknown(tag) => *tag,
                }
            }

            /// The variant name, for logs and error messages.
            pub fn kind_name(&self) -> &'static str {
                match self {
                    $( $name::$variant(_) => stringify!($variant), )*
                    $name::Unknown(_) => "Unknown",
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeTuple;
                let mut tuple = serializer.serialize_tuple(2)?;
                match self {
                    $( $name::$variant(body) => {
                        tuple.serialize_element(&($tag as u32))?;
                        tuple.serialize_element(body)?;
                    } )*
                    $name::Unknown(tag) => {
                        tuple.serialize_element(tag)?;
                        tuple.serialize_element(&())?;
                    }
                }
                tuple.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct TaggedVisitor;
                impl<'de> serde::de::Visitor<'de> for TaggedVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str(concat!("a [tag, body] array for ", stringify!($name)))
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<$name, A::Error> {
                        let tag: u32 = seq
                            .next_element()?
                            .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                        let value = match tag {
                            $( $tag => $name::$variant(
                                seq.next_element()?
                                    .ok_or_else(|| serde::de::Error::invalid_length(1, &self))?,
                            ), )*
                            other => {
                                seq.next_element::<serde::de::IgnoredAny>()?
                                    .ok_or_else(|| serde::de::Error::invalid_length(1, &self))?;
                                $name::Unknown(other)
                            }
                        };
                        Ok(value)
                    }
                }
                deserializer.deserialize_tuple(2, TaggedVisitor)
            }
        }
    };
}

pub(crate) use tagged_enum;
