//! Unsigned LEB128 varints, as used in every binary header of the host.

/// Appends `value` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The result of reading a varint from the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Varint {
    /// The value and how many bytes it used.
    Value(u64, usize),
    /// More bytes are needed.
    Incomplete,
    /// Longer than 10 bytes or past `u64`.
    Overflow,
}

/// Reads an unsigned LEB128 varint from the front of `bytes`.
pub fn get_varint(bytes: &[u8]) -> Varint {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return Varint::Overflow;
        }
        value |= part << (7 * i);
        if b & 0x80 == 0 {
            return Varint::Value(value, i + 1);
        }
    }
    if bytes.len() >= 10 { Varint::Overflow } else { Varint::Incomplete }
}
