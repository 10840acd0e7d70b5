//! Small binary helpers shared by the link and routing headers.
//!
//! Owns: LEB128 varints ([`put_varint`], [`get_varint`]) and a field-naming
//! slice cursor ([`Reader`]). Knows nothing about any frame or packet.

mod reader;
mod varint;

pub use reader::{DecodeError, Reader};
pub use varint::{Varint, get_varint, put_varint};
