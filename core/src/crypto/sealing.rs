//! Anonymous one-shot sealed boxes to a node's key: the node's use of
//! `weft_sealed_box` (the one implementation, shared with plugins), with
//! the ephemeral key drawn from the caller's CSPRNG and the node-seal
//! `info`.

use rand::{CryptoRng, RngCore};
use weft_sealed_box::NODE_SEAL_INFO;
use x25519_dalek::{PublicKey, StaticSecret};

/// Bytes a sealed box adds to its plaintext.
pub const SEAL_OVERHEAD: usize = weft_sealed_box::OVERHEAD;

/// Seals `plaintext` to `recipient`, with an ephemeral key drawn from `rng`
/// (a CSPRNG: the box is only as secret as that key). `None` when the
/// recipient key is a low-order point: nothing can be sealed to it.
pub fn seal(rng: &mut (impl RngCore + CryptoRng), recipient: &PublicKey, plaintext: &[u8]) -> Option<Vec<u8>> {
    let mut ephemeral = [0u8; 32];
    rng.fill_bytes(&mut ephemeral);
    weft_sealed_box::seal(recipient.as_bytes(), plaintext, ephemeral, NODE_SEAL_INFO)
}

/// Why a sealed box could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Shorter than the fixed overhead.
    #[error("sealed box too short ({0} bytes, at least {SEAL_OVERHEAD} expected)")]
    TooShort(usize),
    /// Wrong recipient, or the bytes were altered.
    #[error("sealed box does not authenticate (wrong recipient or tampered)")]
    Unauthentic,
}

/// Opens a box sealed to the holder of `secret`.
pub fn open(secret: &StaticSecret, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(OpenError::TooShort(sealed.len()));
    }
    let secret = weft_sealed_box::StaticSecret::from(secret.to_bytes());
    weft_sealed_box::open(&secret, sealed, NODE_SEAL_INFO).ok_or(OpenError::Unauthentic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_48_bytes_overhead() {
        let secret = StaticSecret::from([3u8; 32]);
        let sealed = seal(&mut rand::rngs::OsRng, &PublicKey::from(&secret), b"therapy slot 9:00").unwrap();
        assert_eq!(sealed.len(), 17 + SEAL_OVERHEAD);
        assert!(!sealed.windows(7).any(|w| w == b"therapy"));
        assert_eq!(open(&secret, &sealed).unwrap(), b"therapy slot 9:00");
    }

    #[test]
    fn tampering_and_wrong_recipient_are_detected() {
        let secret = StaticSecret::from([3u8; 32]);
        let mut sealed = seal(&mut rand::rngs::OsRng, &PublicKey::from(&secret), b"x").unwrap();
        let other = StaticSecret::from([4u8; 32]);
        assert_eq!(open(&other, &sealed), Err(OpenError::Unauthentic));
        sealed[40] ^= 1;
        assert_eq!(open(&secret, &sealed), Err(OpenError::Unauthentic));
        assert_eq!(open(&secret, &sealed[..10]), Err(OpenError::TooShort(10)));
    }

    #[test]
    fn a_low_order_recipient_gets_nothing() {
        assert_eq!(seal(&mut rand::rngs::OsRng, &PublicKey::from([0u8; 32]), b"x"), None);
    }
}
