//! CBOR encoding and decoding of everything that crosses the boundary.
//!
//! Owns: [`encode_into`], [`encode`], [`decode`] and [`CodecError`]. Both
//! bindings (wasm and native) and the host use exactly these functions, so the
//! bytes are the same whichever way a plugin is loaded.
//!
//! The codec is this crate's own serde implementation, written for the hot
//! path (each call is decoded once in the guest and its outcome once in the
//! host): it reads straight from the byte slice, borrows strings and byte
//! strings instead of copying them through a scratch buffer, and skips
//! unknown items without visiting them. The bytes are exactly those of
//! ciborium, which remains the reference codec in the tests
//! (`tests/codec_*.rs` compare both for every boundary type).
//!
//! Files: `head` (item heads), `de` (decoder), `ser` (encoder), `tag`
//! (ciborium's serde convention for CBOR tags), `error` (errors).

mod de;
mod error;
pub(crate) mod head;
mod reader;
mod ser;
mod tag;

pub use error::CodecError;
pub use reader::MAX_DEPTH;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes `value` as CBOR, appending to `out` (which is not cleared).
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    value.serialize(&mut ser::Serializer::new(out)).map_err(error::Error::into_encode_error)
}

/// Encodes `value` as CBOR into a new buffer.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(128);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Decodes one CBOR value of type `T` from `bytes`. Trailing bytes are an
/// error, and so is nesting deeper than [`MAX_DEPTH`]. Error messages give
/// the byte offset where the problem was found.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut de = reader::Deserializer::new(bytes);
    let value = match T::deserialize(&mut de) {
        Ok(value) => value,
        Err(e) => return Err(e.into_codec_error(de.position())),
    };
    let rest = bytes.len() - de.position();
    if rest != 0 {
        return Err(CodecError(format!("{rest} trailing bytes after the value (at byte {})", de.position())));
    }
    Ok(value)
}
