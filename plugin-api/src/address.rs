//! Node addresses as seen by plugins.
//!
//! Owns: [`Address`], its stable text form and its serde encoding: a 16-byte
//! byte string in binary formats (CBOR), the text form in human-readable ones
//! (JSON command arguments, TOML config). How an address is derived from a key
//! is the host's business.

use core::fmt;
use core::str::FromStr;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A 16-byte node address: the first 16 bytes of SHA-256 of the node's
/// Ed25519 public key. Its text form is 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 16]);

impl Address {
    /// Number of bytes in an address.
    pub const LEN: usize = 16;

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// Error parsing the text form of an [`Address`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressParseError;

impl fmt::Display for AddressParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected an address of 32 hexadecimal digits")
    }
}

impl FromStr for Address {
    type Err = AddressParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::hex::decode_array::<16>(s).map(Address).ok_or(AddressParseError)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() { serializer.collect_str(self) } else { serializer.serialize_bytes(&self.0) }
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AddressVisitor;
        impl<'de> Visitor<'de> for AddressVisitor {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 16-byte address or 32 hexadecimal digits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Address, E> {
                v.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Address, E> {
                let bytes: [u8; 16] = v.try_into().map_err(|_| E::invalid_length(v.len(), &self))?;
                Ok(Address(bytes))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(AddressVisitor)
        } else {
            deserializer.deserialize_bytes(AddressVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let a = Address([0xab; 16]);
        let text = a.to_string();
        assert_eq!(text, "abababababababababababababababab");
        assert_eq!(text.parse::<Address>(), Ok(a));
    }

    #[test]
    fn cbor_takes_the_binary_form_and_the_text_form_of_config_tables() {
        let a = Address([0xab; 16]);
        let binary = crate::codec::encode(&a).expect("encode");
        assert_eq!(crate::codec::decode::<Address>(&binary), Ok(a));
        // A TOML config table arrives as CBOR with the address as text.
        let text = crate::codec::encode(&a.to_string()).expect("encode");
        assert_eq!(crate::codec::decode::<Address>(&text), Ok(a));
        let bad = crate::codec::encode(&"not an address").expect("encode");
        assert!(crate::codec::decode::<Address>(&bad).is_err());
    }

    #[test]
    fn bad_text_is_refused() {
        assert!("abc".parse::<Address>().is_err());
        assert!("zz".repeat(16).parse::<Address>().is_err());
    }
}
