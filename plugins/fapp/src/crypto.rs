//! The little cryptography FAPP does itself: addresses from keys, and sealed
//! boxes to X25519 keys that are not node keys.
//!
//! Owns: [`address_of`], [`ReplyKey`] (the patient's ephemeral key for one
//! reservation), the `info` of confirmations, and [`node_x25519_key`]. The
//! box itself ([`seal`] / [`open`]) is `weft_sealed_box`'s. Signing, verifying and opening boxes sealed to this
//! node stay in the host: node keys never enter plugin memory.
//!
//! Box format (the host's, `docs/ABI.md` §4): `ephemeral X25519 public (32)
//! ‖ ChaCha20-Poly1305 ciphertext ‖ tag (16)`; key = HKDF-SHA256(salt =
//! ephemeral public ‖ recipient public, ikm = X25519 shared secret, info);
//! nonce 0, which is safe because every box has a fresh ephemeral key. FAPP
//! uses it with two `info` strings:
//! - [`NODE_SEAL_INFO`] (`"weft seal v1"`): a reservation sealed to the
//!   therapist's node key, opened by the therapist's host (`Ctx::open`);
//! - [`CONFIRM_INFO`] (`"fapp confirm v1"`): a confirmation sealed to the
//!   patient's reply key. A fresh ephemeral key per confirmation and a reply
//!   key used for one reservation only give forward secrecy: once both
//!   sides dropped their secrets, a recorded confirmation stays unreadable.

use sha2::{Digest, Sha256};
use weft_plugin_api::Address;
/// The box format is `weft_sealed_box`'s, the one implementation the host
/// uses too; [`NODE_SEAL_INFO`] is the host's own seal.
pub use weft_sealed_box::{NODE_SEAL_INFO, OVERHEAD as BOX_OVERHEAD, open, seal};
use x25519_dalek::{PublicKey, StaticSecret};
/// HKDF info of confirmations sealed to a patient's reply key.
pub const CONFIRM_INFO: &[u8] = b"fapp confirm v1";

/// A Weft address: the first 16 bytes of SHA-256 of the Ed25519 public key.
pub fn address_of(ed25519_public: &[u8; 32]) -> Address {
    let digest = Sha256::digest(ed25519_public);
    let mut address = [0u8; 16];
    address.copy_from_slice(&digest[..16]);
    Address(address)
}

/// SHA-256 of arbitrary bytes (the approbation hash).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The X25519 key a Weft node opens boxes with, derived from its Ed25519
/// public key (the birational map, as the host does). `None` for bytes that
/// are not a valid Ed25519 point.
pub fn node_x25519_key(ed25519_public: &[u8; 32]) -> Option<[u8; 32]> {
    let point = curve25519_dalek::edwards::CompressedEdwardsY(*ed25519_public).decompress()?;
    Some(point.to_montgomery().to_bytes())
}

/// A patient's ephemeral X25519 key for one reservation. The secret is
/// wiped when the key is dropped.
pub struct ReplyKey {
    secret: StaticSecret,
}

impl ReplyKey {
    /// A key from 32 random bytes (from `Ctx::fill_random`).
    pub fn from_random(bytes: [u8; 32]) -> ReplyKey {
        ReplyKey { secret: StaticSecret::from(bytes) }
    }

    /// The public half, sent inside the sealed reservation.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.secret).to_bytes()
    }

    /// The secret bytes (only for handing over to the next instance on a
    /// hot swap; never persisted).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// Opens a confirmation sealed to this key.
    pub fn open_confirm(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        open(&self.secret, sealed, CONFIRM_INFO)
    }
}

impl core::fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ReplyKey({:02x?}..)", &self.public()[..4])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirm_boxes_open_only_with_the_reply_key_and_each_uses_a_fresh_key() {
        let patient = ReplyKey::from_random([3; 32]);
        let a = seal(&patient.public(), b"accepted", [4; 32], CONFIRM_INFO).unwrap();
        let b = seal(&patient.public(), b"accepted", [5; 32], CONFIRM_INFO).unwrap();
        assert_eq!(a.len(), 8 + BOX_OVERHEAD);
        assert_ne!(a, b, "fresh ephemeral key per box");
        assert_eq!(patient.open_confirm(&a).as_deref(), Some(&b"accepted"[..]));
        assert!(ReplyKey::from_random([6; 32]).open_confirm(&a).is_none(), "another key");
        let mut tampered = a.clone();
        tampered[40] ^= 1;
        assert!(patient.open_confirm(&tampered).is_none());
        // The info string separates the two uses of the format.
        assert!(open(&StaticSecret::from([3; 32]), &a, NODE_SEAL_INFO).is_none());
        // Low-order recipient keys are refused.
        assert!(seal(&[0; 32], b"x", [4; 32], CONFIRM_INFO).is_none());
    }

    #[test]
    fn a_box_to_a_node_key_opens_with_the_matching_x25519_secret() {
        // The host derives a node's X25519 secret from its Ed25519 key the
        // same way as ed25519-dalek's `to_scalar_bytes`: SHA-512 of the seed,
        // clamped (x25519 clamps itself).
        let seed = [11u8; 32];
        let hash = <sha2::Sha512 as Digest>::digest(seed);
        let mut scalar = [0u8; 32];
        scalar.copy_from_slice(&hash[..32]);
        let x_secret = StaticSecret::from(scalar);
        // The Ed25519 public key for that seed: the base point times the clamped scalar.
        let clamped = curve25519_dalek::scalar::clamp_integer(scalar);
        let ed_public = curve25519_dalek::EdwardsPoint::mul_base_clamped(clamped).compress().to_bytes();
        let x_public = node_x25519_key(&ed_public).unwrap();
        assert_eq!(x_public, PublicKey::from(&x_secret).to_bytes());
        let sealed = seal(&x_public, b"reserve", [8; 32], NODE_SEAL_INFO).unwrap();
        assert_eq!(open(&x_secret, &sealed, NODE_SEAL_INFO).as_deref(), Some(&b"reserve"[..]));
    }

    #[test]
    fn addresses_are_the_first_half_of_sha256() {
        let a = address_of(&[0; 32]);
        assert_eq!(a.to_string(), "66687aadf862bd776c8fc18b8e9f8e20");
    }
}
