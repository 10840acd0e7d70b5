//! CBOR for plugin authors: state blobs, stored values and payloads.
//!
//! Owns: nothing but the author-facing names; the codec itself is the
//! host's (`internal::codec`), so what a plugin writes here is what the
//! host and other plugins read. Any serde type works.

pub use crate::codec::CodecError;

/// Encodes `value` as CBOR.
pub fn to_vec<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    crate::codec::encode(value)
}

/// Decodes one CBOR value (the whole of `bytes`).
pub fn from_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    crate::codec::decode(bytes)
}
