//! Real node cryptography for [`TestHost`](super::TestHost), byte for byte the
//! host's: Ed25519 signatures under the host's per-plugin signing context,
//! sealed boxes (`weft_sealed_box`, the implementation the host uses),
//! addresses from keys, and a directory of known keys shared by the test's
//! nodes.
//!
//! Owns: [`TestIdentity`] and [`KeyDirectory`]. The host's test suite seals and
//! signs with these and opens and verifies with its own code (and the other
//! way round), so the two cannot drift apart. Not built for wasm: tests run
//! natively.

use crate::Address;
use crate::host_call::{HostCall, HostError, HostErrorCode, HostReply, Opened};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use crate::signing::{PLUGIN_SIGNING_CONTEXT, plugin_signing_input};
/// The HKDF info of boxes sealed to a node key.
pub const SEAL_INFO: &[u8] = weft_sealed_box::NODE_SEAL_INFO;
/// Bytes a sealed box adds to its plaintext.
pub const SEAL_OVERHEAD: usize = weft_sealed_box::OVERHEAD;

/// A node's address: the first 16 bytes of SHA-256 of its Ed25519 public key.
pub fn address_of(public_key: &[u8; 32]) -> Address {
    let digest = Sha256::digest(public_key);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    Address(out)
}

/// Seals `plaintext` to the node whose Ed25519 public key is `recipient`, with
/// the ephemeral secret `ephemeral` (tests pass seeded bytes). `None` when the
/// key is not a valid curve point.
pub fn seal(recipient: &[u8; 32], plaintext: &[u8], ephemeral: [u8; 32]) -> Option<Vec<u8>> {
    let recipient = VerifyingKey::from_bytes(recipient).ok()?.to_montgomery().to_bytes();
    weft_sealed_box::seal(&recipient, plaintext, ephemeral, SEAL_INFO)
}

/// Known nodes' public keys, shared by the [`TestHost`](super::TestHost)s of
/// one test: what announces teach a real node.
#[derive(Clone, Default)]
pub struct KeyDirectory(Arc<Mutex<BTreeMap<Address, [u8; 32]>>>);

impl KeyDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a node's key.
    pub fn learn(&self, public_key: [u8; 32]) -> Address {
        let address = address_of(&public_key);
        if let Ok(mut keys) = self.0.lock() {
            keys.insert(address, public_key);
        }
        address
    }

    /// The key of `address`, if known.
    pub fn key_of(&self, address: &Address) -> Option<[u8; 32]> {
        self.0.lock().ok()?.get(address).copied()
    }
}

/// One test node's key, answering the crypto host calls as the host does for
/// the plugin instance named `plugin`.
pub struct TestIdentity {
    signing: SigningKey,
    plugin: String,
    directory: KeyDirectory,
}

fn error(code: HostErrorCode, message: impl Into<String>) -> HostReply {
    HostReply::Error(HostError::new(code, message))
}

impl TestIdentity {
    /// The node with secret `seed`, running the plugin instance `plugin`; its
    /// key joins `directory`.
    pub fn new(seed: [u8; 32], plugin: &str, directory: &KeyDirectory) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        directory.learn(signing.verifying_key().to_bytes());
        Self { signing, plugin: plugin.to_string(), directory: directory.clone() }
    }

    /// The node's address.
    pub fn address(&self) -> Address {
        address_of(&self.signing.verifying_key().to_bytes())
    }

    /// The node's Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// Answers `call` if it is a crypto or key call; `None` otherwise.
    /// `ephemeral` supplies a fresh ephemeral secret for a seal.
    pub fn answer(&self, call: &HostCall, ephemeral: impl FnOnce() -> [u8; 32]) -> Option<HostReply> {
        Some(match call {
            HostCall::PublicKey(_) => HostReply::PublicKey(ByteBuf::from(self.public_key().to_vec())),
            HostCall::Sign(req) => {
                let signature = self.signing.sign(&plugin_signing_input(&self.plugin, &req.message));
                HostReply::Signature(ByteBuf::from(signature.to_bytes().to_vec()))
            }
            HostCall::Verify(req) => {
                let input = plugin_signing_input(&self.plugin, &req.message);
                let key = <[u8; 32]>::try_from(req.public_key.as_slice()).ok();
                let key = key.and_then(|k| VerifyingKey::from_bytes(&k).ok());
                let signature = <[u8; 64]>::try_from(req.signature.as_slice()).ok();
                let ok = key.zip(signature).is_some_and(|(key, signature)| {
                    key.verify(&input, &ed25519_dalek::Signature::from_bytes(&signature)).is_ok()
                });
                HostReply::Verified(ok)
            }
            HostCall::KnownKey(req) => match self.directory.key_of(&req.address) {
                Some(key) => HostReply::PublicKey(ByteBuf::from(key.to_vec())),
                None => error(HostErrorCode::NotFound, format!("no public key known for {}", req.address)),
            },
            HostCall::Seal(req) => match self.directory.key_of(&req.to) {
                Some(key) => match seal(&key, &req.plaintext, ephemeral()) {
                    Some(sealed) => HostReply::Sealed(ByteBuf::from(sealed)),
                    None => error(HostErrorCode::Failed, "the recipient's key is not a curve point"),
                },
                None => error(HostErrorCode::NotFound, format!("no public key known for {}", req.to)),
            },
            HostCall::Open(req) => match self.open(&req.sealed) {
                Some(plaintext) => HostReply::Opened(Opened { plaintext, sender: None }),
                None => error(HostErrorCode::Failed, "sealed box does not authenticate (wrong recipient or tampered)"),
            },
            _ => return None,
        })
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let secret = weft_sealed_box::StaticSecret::from(self.signing.to_scalar_bytes());
        weft_sealed_box::open(&secret, sealed, SEAL_INFO)
    }
}
