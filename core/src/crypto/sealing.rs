//! Sealed boxes: only the holder of the recipient's key can open them.
//!
//! Format: `ephemeral X25519 public key (32) || ChaCha20-Poly1305 ciphertext
//! || tag (16)`: 48 bytes of overhead. The key is HKDF-SHA256 over the shared
//! secret, salted with both public keys; each box has a fresh ephemeral key,
//! so a fixed nonce is safe.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

/// Bytes a sealed box adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 32 + 16;

const INFO: &[u8] = b"weft seal v1";

fn cipher(shared: &[u8; 32], ephemeral: &PublicKey, recipient: &PublicKey) -> ChaCha20Poly1305 {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral.as_bytes());
    salt[32..].copy_from_slice(recipient.as_bytes());
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte output limit.
    hk.expand(INFO, &mut key).unwrap_or_default();
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

/// Seals `plaintext` to `recipient`, with an ephemeral key drawn from `rng`
/// (a CSPRNG: the box is only as secret as that key).
pub fn seal(rng: &mut (impl RngCore + CryptoRng), recipient: &PublicKey, plaintext: &[u8]) -> Vec<u8> {
    let ephemeral_secret = StaticSecret::random_from_rng(rng);
    let ephemeral = PublicKey::from(&ephemeral_secret);
    let shared = ephemeral_secret.diffie_hellman(recipient);
    let cipher = cipher(shared.as_bytes(), &ephemeral, recipient);
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    out.extend_from_slice(ephemeral.as_bytes());
    // Encryption with a valid key cannot fail for in-memory buffers.
    let ciphertext =
        cipher.encrypt(Nonce::from_slice(&[0; 12]), Payload { msg: plaintext, aad: &[] }).unwrap_or_default();
    out.extend_from_slice(&ciphertext);
    out
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
    let mut eph = [0u8; 32];
    eph.copy_from_slice(&sealed[..32]);
    let ephemeral = PublicKey::from(eph);
    let recipient = PublicKey::from(secret);
    let shared = secret.diffie_hellman(&ephemeral);
    let cipher = cipher(shared.as_bytes(), &ephemeral, &recipient);
    cipher
        .decrypt(Nonce::from_slice(&[0; 12]), Payload { msg: &sealed[32..], aad: &[] })
        .map_err(|_| OpenError::Unauthentic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_48_bytes_overhead() {
        let secret = StaticSecret::from([3u8; 32]);
        let sealed = seal(&mut rand::rngs::OsRng, &PublicKey::from(&secret), b"therapy slot 9:00");
        assert_eq!(sealed.len(), 17 + SEAL_OVERHEAD);
        assert!(!sealed.windows(7).any(|w| w == b"therapy"));
        assert_eq!(open(&secret, &sealed).unwrap(), b"therapy slot 9:00");
    }

    #[test]
    fn tampering_and_wrong_recipient_are_detected() {
        let secret = StaticSecret::from([3u8; 32]);
        let mut sealed = seal(&mut rand::rngs::OsRng, &PublicKey::from(&secret), b"x");
        let other = StaticSecret::from([4u8; 32]);
        assert_eq!(open(&other, &sealed), Err(OpenError::Unauthentic));
        sealed[40] ^= 1;
        assert_eq!(open(&secret, &sealed), Err(OpenError::Unauthentic));
        assert_eq!(open(&secret, &sealed[..10]), Err(OpenError::TooShort(10)));
    }
}
