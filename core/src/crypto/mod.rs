//! The node's own crypto: its identity and the anonymous sealed box.
//!
//! Owns: [`NodeIdentity`] (Ed25519 key, derived X25519 key, address) and
//! [`seal`]/[`open`] (ephemeral X25519 + HKDF-SHA256 + ChaCha20-Poly1305).
//! Keys never leave this module as bytes except the public halves; plugins get
//! signatures and sealed boxes through host calls.

mod identity;
mod sealing;

pub use identity::{
    NodeIdentity, PLUGIN_SIGNING_CONTEXT, address_of, address_of_bytes, plugin_signing_input, verify,
    verify_plugin_signature,
};
pub use sealing::{OpenError, SEAL_OVERHEAD, open, seal};
