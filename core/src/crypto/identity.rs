//! The node identity: one Ed25519 key from which everything else derives.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use weft_plugin_api::Address;

pub use weft_plugin_api::signing::{PLUGIN_SIGNING_CONTEXT, plugin_signing_input};

/// The address of a public key: the first 16 bytes of SHA-256(public key).
pub fn address_of(public_key: &VerifyingKey) -> Address {
    address_of_bytes(public_key.as_bytes())
}

/// The address of an encoded public key, without decoding the curve point
/// (cheap; whether the key is valid is the signature check's business).
pub fn address_of_bytes(public_key: &[u8; 32]) -> Address {
    let digest = Sha256::digest(public_key);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    Address(out)
}

/// A node's long-term identity.
pub struct NodeIdentity {
    signing: SigningKey,
    address: Address,
}

impl NodeIdentity {
    /// Creates a fresh random identity.
    pub fn generate() -> Self {
        Self::from_secret(rand::random())
    }

    /// Restores an identity from its 32-byte Ed25519 secret seed.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(&secret);
        let address = address_of(&signing.verifying_key());
        Self { signing, address }
    }

    /// The 32-byte secret seed: for the key file, the TLS certificate and
    /// keys derived from the identity (the QUIC stateless-reset key) only.
    /// Never put it on the wire or in a log.
    pub fn secret_seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The node's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// The X25519 secret used to open sealed boxes, derived from the Ed25519
    /// key (the standard Ed25519 -> X25519 conversion), so one key file suffices.
    pub(crate) fn x25519_secret(&self) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from(self.signing.to_scalar_bytes())
    }

    /// Opens a box sealed to this node ([`crate::crypto::seal`]).
    pub fn open_sealed(&self, sealed: &[u8]) -> Result<Vec<u8>, crate::crypto::OpenError> {
        crate::crypto::open(&self.x25519_secret(), sealed)
    }

    /// The X25519 public key matching `NodeIdentity::x25519_secret`.
    pub fn x25519_public(&self) -> x25519_dalek::PublicKey {
        x25519_dalek::PublicKey::from(self.signing.verifying_key().to_montgomery().to_bytes())
    }
}

impl std::fmt::Debug for NodeIdentity {
    /// Shows the address only: the secret never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeIdentity({})", self.address)
    }
}

impl NodeIdentity {
    /// Signs `message` for the plugin named `plugin` ([`plugin_signing_input`]).
    pub fn sign_for_plugin(&self, plugin: &str, message: &[u8]) -> Signature {
        self.signing.sign(&plugin_signing_input(plugin, message))
    }
}

/// Verifies a signature made by [`NodeIdentity::sign_for_plugin`] for the
/// plugin named `plugin`.
pub fn verify_plugin_signature(plugin: &str, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    verify(public_key, &plugin_signing_input(plugin, message), signature)
}

/// Verifies an Ed25519 signature given raw bytes. Malformed keys or
/// signatures simply do not verify.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key_bytes) = <[u8; 32]>::try_from(public_key) else { return false };
    let Ok(sig_bytes) = <[u8; 64]>::try_from(signature) else { return false };
    let Ok(key) = VerifyingKey::from_bytes(&key_bytes) else { return false };
    key.verify(message, &Signature::from_bytes(&sig_bytes)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_is_detected() {
        let id = NodeIdentity::from_secret([7; 32]);
        let sig = id.sign(b"hello").to_bytes();
        let pk = id.public_key().to_bytes();
        assert!(verify(&pk, b"hello", &sig));
        assert!(!verify(&pk, b"hellO", &sig));
        assert!(!verify(&pk[..31], b"hello", &sig));
    }

    #[test]
    fn derived_x25519_public_matches_secret() {
        let id = NodeIdentity::from_secret([9; 32]);
        assert_eq!(x25519_dalek::PublicKey::from(&id.x25519_secret()), id.x25519_public());
    }
}
