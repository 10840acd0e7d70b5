//! Codec errors.
//!
//! Owns: [`CodecError`] (the public error of `encode`/`decode`) and [`Error`],
//! the serde error type the encoder and decoder use internally. An internal
//! error carries the byte offset where it was detected when the decoder knows
//! it; errors raised by serde visitors (missing field, wrong variant...) get
//! the decoder's position when they reach [`crate::codec::decode`].

use core::fmt;

/// A value could not be encoded or decoded as CBOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CBOR: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// The serde error of the codec. Boxed so that `Result`s stay one word wide
/// on the hot path.
#[derive(Debug)]
pub(crate) struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    message: String,
    offset: Option<usize>,
}

impl Error {
    /// An error detected at byte `offset` of the input.
    #[cold]
    pub(crate) fn at(offset: usize, message: impl fmt::Display) -> Self {
        Error(Box::new(Inner { message: message.to_string(), offset: Some(offset) }))
    }

    /// The input ended at `offset` while `what` was being read.
    #[cold]
    pub(crate) fn truncated(offset: usize, what: &str) -> Self {
        Self::at(offset, format_args!("truncated input: {what} runs past the end ({offset} bytes)"))
    }

    /// Converts to the public error, using `offset` when the error itself
    /// does not say where it happened.
    #[cold]
    pub(crate) fn into_codec_error(self, offset: usize) -> CodecError {
        let at = self.0.offset.unwrap_or(offset);
        CodecError(format!("{} (at byte {at})", self.0.message))
    }

    /// Converts to the public error of an encoder (no offset).
    #[cold]
    pub(crate) fn into_encode_error(self) -> CodecError {
        CodecError(self.0.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.offset {
            Some(at) => write!(f, "{} (at byte {at})", self.0.message),
            None => f.write_str(&self.0.message),
        }
    }
}

impl std::error::Error for Error {}

impl serde::de::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(Box::new(Inner { message: msg.to_string(), offset: None }))
    }
}

impl serde::ser::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(Box::new(Inner { message: msg.to_string(), offset: None }))
    }
}
