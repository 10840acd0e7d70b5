//! # weft-sealed-box: a box only the holder of a key can open
//!
//! The one implementation of Weft's sealed-box format, used by the node
//! (anonymous one-shot messages, the `seal`/`open` host calls) and by
//! plugins that seal to keys that are not node keys (FAPP's confirmations).
//!
//! Format (`docs/WIRE.md`, `docs/ABI.md` §4): `ephemeral X25519 public (32)
//! ‖ ChaCha20-Poly1305 ciphertext ‖ tag (16)`. The key is HKDF-SHA256 with
//! salt = ephemeral public ‖ recipient public, ikm = the X25519 shared
//! secret, and an `info` string that separates uses; the nonce is zero,
//! which is safe because every box has a fresh ephemeral key. The caller
//! supplies the ephemeral secret (32 random bytes), so the node's
//! simulations replay and plugins use the host's randomness.
//!
//! Must not: draw randomness or hold keys.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

use alloc::vec::Vec;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
pub use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

/// Bytes a box adds to its plaintext.
pub const OVERHEAD: usize = 32 + 16;

/// The `info` of boxes sealed to a node's key (opened by its host).
pub const NODE_SEAL_INFO: &[u8] = b"weft seal v1";

fn cipher(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &[u8; 32], info: &[u8]) -> ChaCha20Poly1305 {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's output limit: expand cannot fail.
    let _ = hk.expand(info, &mut key);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
    key.zeroize();
    cipher
}

/// Seals `plaintext` to the X25519 key `recipient` with the ephemeral
/// secret `ephemeral` (32 random bytes; consumed). `None` when `recipient`
/// is a low-order point (no shared secret).
pub fn seal(recipient: &[u8; 32], plaintext: &[u8], ephemeral: [u8; 32], info: &[u8]) -> Option<Vec<u8>> {
    let secret = StaticSecret::from(ephemeral);
    let ephemeral_public = PublicKey::from(&secret).to_bytes();
    let shared = secret.diffie_hellman(&PublicKey::from(*recipient));
    if !shared.was_contributory() {
        return None;
    }
    let cipher = cipher(shared.as_bytes(), &ephemeral_public, recipient, info);
    let ciphertext = cipher.encrypt(Nonce::from_slice(&[0; 12]), Payload { msg: plaintext, aad: &[] }).ok()?;
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(&ephemeral_public);
    out.extend_from_slice(&ciphertext);
    Some(out)
}

/// Opens a box sealed to the public half of `secret`. `None` when it is
/// shorter than [`OVERHEAD`] or does not authenticate (another recipient,
/// another `info`, or altered).
pub fn open(secret: &StaticSecret, sealed: &[u8], info: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < OVERHEAD {
        return None;
    }
    let mut ephemeral = [0u8; 32];
    ephemeral.copy_from_slice(&sealed[..32]);
    let shared = secret.diffie_hellman(&PublicKey::from(ephemeral));
    if !shared.was_contributory() {
        return None;
    }
    let recipient = PublicKey::from(secret).to_bytes();
    let cipher = cipher(shared.as_bytes(), &ephemeral, &recipient, info);
    cipher.decrypt(Nonce::from_slice(&[0; 12]), Payload { msg: &sealed[32..], aad: &[] }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_opens_only_with_its_key_and_info_and_any_change_breaks_it() {
        let secret = StaticSecret::from([3; 32]);
        let public = PublicKey::from(&secret).to_bytes();
        let a = seal(&public, b"therapy slot 9:00", [4; 32], NODE_SEAL_INFO).unwrap();
        let b = seal(&public, b"therapy slot 9:00", [5; 32], NODE_SEAL_INFO).unwrap();
        assert_eq!(a.len(), 17 + OVERHEAD);
        assert_ne!(a, b, "a fresh ephemeral key per box");
        assert_eq!(open(&secret, &a, NODE_SEAL_INFO).as_deref(), Some(&b"therapy slot 9:00"[..]));
        assert!(open(&StaticSecret::from([6; 32]), &a, NODE_SEAL_INFO).is_none(), "another key");
        assert!(open(&secret, &a, b"other use v1").is_none(), "another info");
        for i in 0..a.len() {
            let mut tampered = a.clone();
            tampered[i] ^= 1;
            assert!(open(&secret, &tampered, NODE_SEAL_INFO).is_none(), "byte {i}");
        }
        assert!(open(&secret, &a[..OVERHEAD - 1], NODE_SEAL_INFO).is_none(), "too short");
        assert!(seal(&[0; 32], b"x", [4; 32], NODE_SEAL_INFO).is_none(), "low-order recipient");
    }
}
