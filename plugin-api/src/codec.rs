//! CBOR encoding and decoding of everything that crosses the boundary.
//!
//! Owns: [`encode_into`], [`encode`], [`decode`] and [`CodecError`]. Both
//! bindings (wasm and native) and the host use exactly these functions, so the
//! bytes are the same whichever way a plugin is loaded.

use core::fmt;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value could not be encoded or decoded as CBOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CBOR: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// Encodes `value` as CBOR, appending to `out` (which is not cleared).
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    ciborium::into_writer(value, out).map_err(|e| CodecError(e.to_string()))
}

/// Encodes `value` as CBOR into a new buffer.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(128);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Decodes one CBOR value of type `T` from `bytes`. Trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut scratch = [0u8; 256];
    let mut reader = bytes;
    let value =
        ciborium::de::from_reader_with_buffer(&mut reader, &mut scratch).map_err(|e| CodecError(describe(e)))?;
    if !reader.is_empty() {
        return Err(CodecError(format!("{} trailing bytes after the value", reader.len())));
    }
    Ok(value)
}

fn describe<E: fmt::Debug>(e: ciborium::de::Error<E>) -> String {
    match e {
        ciborium::de::Error::Io(io) => format!("truncated input ({io:?})"),
        ciborium::de::Error::Syntax(offset) => format!("malformed CBOR at byte {offset}"),
        ciborium::de::Error::Semantic(offset, msg) => match offset {
            Some(o) => format!("{msg} (at byte {o})"),
            None => msg,
        },
        ciborium::de::Error::RecursionLimitExceeded => "nesting too deep".to_string(),
    }
}
