//! CBOR item heads (RFC 8949 §3): the initial byte and its argument.
//!
//! Owns: the major-type constants, [`Head`] (a decoded head, the same cases
//! as ciborium's `Header`) and [`write_head`], which always picks the shortest
//! argument encoding, exactly as ciborium does. Reading a head from input is
//! the decoder's job (`de`), because it needs the input position for errors.

/// Major type 0: unsigned integer.
pub(crate) const MAJOR_UINT: u8 = 0;
/// Major type 1: negative integer (`-1 - argument`).
pub(crate) const MAJOR_NINT: u8 = 1;
/// Major type 2: byte string.
pub(crate) const MAJOR_BYTES: u8 = 2;
/// Major type 3: UTF-8 text string.
pub(crate) const MAJOR_TEXT: u8 = 3;
/// Major type 4: array.
pub(crate) const MAJOR_ARRAY: u8 = 4;
/// Major type 5: map.
pub(crate) const MAJOR_MAP: u8 = 5;
/// Major type 6: tag.
pub(crate) const MAJOR_TAG: u8 = 6;
/// Major type 7: simple values, floats and the break code.
pub(crate) const MAJOR_SIMPLE: u8 = 7;

/// Simple value `false`.
pub(crate) const FALSE: u8 = 20;
/// Simple value `true`.
pub(crate) const TRUE: u8 = 21;
/// Simple value `null`.
pub(crate) const NULL: u8 = 22;
/// Simple value `undefined` (decoded like `null`).
pub(crate) const UNDEFINED: u8 = 23;

/// The break code ending indefinite-length items.
pub(crate) const BREAK: u8 = 0xff;

/// Tag of a positive bignum (a byte string holding a big-endian integer).
pub(crate) const TAG_BIGPOS: u64 = 2;
/// Tag of a negative bignum (`-1 - n`).
pub(crate) const TAG_BIGNEG: u64 = 3;

/// One decoded item head. Lengths are `None` for indefinite-length items.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Head {
    /// Unsigned integer.
    Uint(u64),
    /// Negative integer; the value is `-1 - n`.
    Nint(u64),
    /// Byte string of this many bytes.
    Bytes(Option<u64>),
    /// Text string of this many bytes.
    Text(Option<u64>),
    /// Array of this many items.
    Array(Option<u64>),
    /// Map of this many pairs.
    Map(Option<u64>),
    /// Tag number (the tagged item follows).
    Tag(u64),
    /// Simple value (including false, true, null, undefined).
    Simple(u8),
    /// Half, single or double precision float, widened to `f64`.
    Float(f64),
    /// The break code.
    Break,
}

impl Head {
    /// What the item is, for "expected X, found Y" messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Head::Uint(_) => "an unsigned integer",
            Head::Nint(_) => "a negative integer",
            Head::Bytes(_) => "a byte string",
            Head::Text(_) => "a text string",
            Head::Array(_) => "an array",
            Head::Map(_) => "a map",
            Head::Tag(_) => "a tag",
            Head::Simple(FALSE | TRUE) => "a boolean",
            Head::Simple(NULL) => "null",
            Head::Simple(UNDEFINED) => "undefined",
            Head::Simple(_) => "a simple value",
            Head::Float(_) => "a float",
            Head::Break => "a break code",
        }
    }
}

/// Appends a head of major type `major` with argument `value`, using the
/// shortest encoding (immediate, 1, 2, 4 or 8 bytes).
#[inline]
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let m = major << 5;
    if value < 24 {
        out.push(m | value as u8);
    } else if value <= 0xff {
        out.extend_from_slice(&[m | 24, value as u8]);
    } else if value <= 0xffff {
        let b = (value as u16).to_be_bytes();
        out.extend_from_slice(&[m | 25, b[0], b[1]]);
    } else if value <= 0xffff_ffff {
        let b = (value as u32).to_be_bytes();
        out.extend_from_slice(&[m | 26, b[0], b[1], b[2], b[3]]);
    } else {
        let b = value.to_be_bytes();
        out.extend_from_slice(&[m | 27, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    }
}

/// Appends a float in the shortest of half, single or double precision that
/// represents `value` exactly (bit for bit), as ciborium does.
pub(crate) fn write_float(out: &mut Vec<u8>, value: f64) {
    let half = half::f16::from_f64(value);
    let single = value as f32;
    if f64::from(half).to_bits() == value.to_bits() {
        let b = half.to_be_bytes();
        out.extend_from_slice(&[0xf9, b[0], b[1]]);
    } else if f64::from(single).to_bits() == value.to_bits() {
        let b = single.to_be_bytes();
        out.extend_from_slice(&[0xfa, b[0], b[1], b[2], b[3]]);
    } else {
        out.push(0xfb);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_use_the_shortest_argument() {
        let cases: [(u64, &[u8]); 9] = [
            (0, &[0x00]),
            (23, &[0x17]),
            (24, &[0x18, 24]),
            (255, &[0x18, 0xff]),
            (256, &[0x19, 1, 0]),
            (65_535, &[0x19, 0xff, 0xff]),
            (65_536, &[0x1a, 0, 1, 0, 0]),
            (0xffff_ffff, &[0x1a, 0xff, 0xff, 0xff, 0xff]),
            (0x1_0000_0000, &[0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_head(&mut out, MAJOR_UINT, value);
            assert_eq!(out, bytes, "{value}");
        }
    }

    #[test]
    fn floats_use_the_shortest_exact_width() {
        let mut out = Vec::new();
        write_float(&mut out, 1.5);
        assert_eq!(out, [0xf9, 0x3e, 0x00]);
        out.clear();
        write_float(&mut out, 100_000.0);
        assert_eq!(out, [0xfa, 0x47, 0xc3, 0x50, 0x00]);
        out.clear();
        write_float(&mut out, 1.1);
        assert_eq!(out[0], 0xfb);
    }
}
