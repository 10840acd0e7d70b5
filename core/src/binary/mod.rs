//! Small binary helpers shared by the link and routing headers.
//!
//! Owns: LEB128 varints ([`put_varint`], [`get_varint`]) and a field-naming
//! slice cursor ([`Reader`]). Knows nothing about any frame or packet. Hex
//! text is `weft_plugin_api::hex`, shared with plugins and drivers.

mod reader;
mod varint;

pub use reader::{DecodeError, Reader};
pub use varint::{Varint, get_varint, put_varint};

/// Deterministic pseudo-random byte strings of up to `max_len` bytes, for
/// throwing garbage at decoders in tests (here and in `weft-host`).
pub fn garbage(seed: u64, max_len: u64) -> impl Iterator<Item = Vec<u8>> {
    let mut rng = weft_plugin_api::internal::rng::SplitMix64::new(seed);
    std::iter::from_fn(move || {
        let len = rng.up_to(max_len) as usize;
        Some(rng.bytes(len))
    })
}
