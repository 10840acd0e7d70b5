//! Hexadecimal text, the one codec every Weft crate uses: addresses and keys
//! (lowercase), AT-modem payloads (uppercase), config values (either case).

/// `bytes` as lowercase hex digits.
pub fn encode_lower(bytes: &[u8]) -> String {
    encode(bytes, b"0123456789abcdef")
}

/// `bytes` as uppercase hex digits (what AT modems print and expect).
pub fn encode_upper(bytes: &[u8]) -> String {
    encode(bytes, b"0123456789ABCDEF")
}

fn encode(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0x0f)]));
    }
    out
}

/// The value of one hex digit (either case).
pub const fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bytes from an even number of hex digits (either case); `None` for an
/// odd length or a character that is not a hex digit.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits.chunks_exact(2).map(|pair| Some((digit(pair[0])? << 4) | digit(pair[1])?)).collect()
}

/// Exactly `N` bytes from `2 * N` hex digits (either case), or `None`.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_both_cases_and_refuses_wrong_lengths_and_digits() {
        let bytes = [0x00, 0x7f, 0xff, 0x10];
        assert_eq!(encode_lower(&bytes), "007fff10");
        assert_eq!(encode_upper(&bytes), "007FFF10");
        assert_eq!(decode_array::<4>("007FFF10"), Some(bytes));
        assert_eq!(decode("007fFf10"), Some(bytes.to_vec()));
        assert_eq!(decode_array::<4>("007fff1"), None);
        assert_eq!(decode_array::<4>("007fff1g"), None);
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("zz"), None);
        assert_eq!(decode("+1"), None);
        assert_eq!(decode(""), Some(Vec::new()));
        assert_eq!(decode_array::<2>("é1"), None, "non-ASCII is not a digit");
    }
}
