//! Signed announces: how a node tells the mesh it exists and how to reach it.
//!
//! Owns: the announce body ([`Announce`]), creating it with the node key,
//! checking it ([`Announce::verify`]) and remembering checked bodies
//! ([`VerifyMemo`]) so a body heard on many links is checked once. The hop
//! count lives in the packet header and is not signed: relays increment it
//! and never re-sign.
//!
//! ```text
//! ed25519 public key (32) | x25519 public key (32) | capabilities u16 BE | sequence u64 BE | signature (64)
//! signed: "weft announce v1\0" || every field before the signature
//! ```

use super::wire::ANNOUNCE_BODY;
use crate::crypto::{NodeIdentity, address_of_bytes};
use ed25519_dalek::{Signature, VerifyingKey};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use weft_plugin_api::Address;

/// Domain separation: an announce signature is never valid as a TLS or
/// plugin signature, nor the reverse.
pub const ANNOUNCE_CONTEXT: &[u8] = b"weft announce v1\0";
const SIGNED: usize = 32 + 32 + 2 + 8;

/// A node's announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// The node's Ed25519 key; its hash is the node's address.
    pub signing_key: [u8; 32],
    /// The X25519 key packets are sealed to.
    pub sealing_key: [u8; 32],
    /// Capability flags (bit meanings in `docs/WIRE.md`).
    pub capabilities: u16,
    /// Grows with every announce of the node; older ones are replays.
    pub sequence: u64,
    /// Signature over [`ANNOUNCE_CONTEXT`] and the fields above.
    pub signature: [u8; 64],
}

impl Announce {
    /// Signs a new announce for `identity`.
    pub fn create(identity: &NodeIdentity, capabilities: u16, sequence: u64) -> Announce {
        let mut announce = Announce {
            signing_key: identity.public_key().to_bytes(),
            sealing_key: identity.x25519_public().to_bytes(),
            capabilities,
            sequence,
            signature: [0; 64],
        };
        announce.signature = identity.sign(&announce.signed_message()).to_bytes();
        announce
    }

    fn signed_message(&self) -> Vec<u8> {
        let body = self.to_body();
        let mut message = Vec::with_capacity(ANNOUNCE_CONTEXT.len() + SIGNED);
        message.extend_from_slice(ANNOUNCE_CONTEXT);
        message.extend_from_slice(&body[..SIGNED]);
        message
    }

    /// The wire body.
    pub fn to_body(&self) -> [u8; ANNOUNCE_BODY] {
        let mut body = [0u8; ANNOUNCE_BODY];
        body[..32].copy_from_slice(&self.signing_key);
        body[32..64].copy_from_slice(&self.sealing_key);
        body[64..66].copy_from_slice(&self.capabilities.to_be_bytes());
        body[66..74].copy_from_slice(&self.sequence.to_be_bytes());
        body[74..].copy_from_slice(&self.signature);
        body
    }

    /// Reads a wire body (no checks; see [`Announce::verify`]).
    pub fn from_body(body: &[u8; ANNOUNCE_BODY]) -> Announce {
        let mut announce =
            Announce { signing_key: [0; 32], sealing_key: [0; 32], capabilities: 0, sequence: 0, signature: [0; 64] };
        announce.signing_key.copy_from_slice(&body[..32]);
        announce.sealing_key.copy_from_slice(&body[32..64]);
        announce.capabilities = u16::from_be_bytes([body[64], body[65]]);
        let mut sequence = [0u8; 8];
        sequence.copy_from_slice(&body[66..74]);
        announce.sequence = u64::from_be_bytes(sequence);
        announce.signature.copy_from_slice(&body[74..]);
        announce
    }

    /// The announcing node's address (hash of its signing key; a key that
    /// is not a curve point gets an address too, and fails verification).
    pub fn address(&self) -> Address {
        address_of_bytes(&self.signing_key)
    }

    /// Whether the signature is the announcing key's, over these fields.
    pub fn verify(&self) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.signing_key) else {
            return false;
        };
        key.verify_strict(&self.signed_message(), &Signature::from_bytes(&self.signature)).is_ok()
    }
}

/// Results of signature checks, keyed by the whole body. A body that
/// verified once verifies again, so the answer can be reused: within one
/// node (the same announce on several links) or across the nodes of a
/// simulation sharing one memo. A valid body is also interned: every routing
/// table that accepts it holds the same [`Arc`], so a thousand simulated
/// tables keep one copy of each announce instead of a thousand. Bounded;
/// forgets everything when full (tables keep their `Arc`s).
#[derive(Debug, Default)]
pub struct VerifyMemo {
    /// `None`: the body failed verification.
    checked: HashMap<[u8; ANNOUNCE_BODY], Option<Arc<Announce>>>,
}

/// Where a router checks announce signatures: its own [`VerifyMemo`] in a
/// node, one [`SharedMemo`] for all the routers of a simulation.
pub trait AnnounceCheck {
    /// The shared copy of `announce` when its signature is valid, `None`
    /// when it is forged.
    fn check(&mut self, announce: &Announce) -> Option<Arc<Announce>>;
}

impl AnnounceCheck for VerifyMemo {
    fn check(&mut self, announce: &Announce) -> Option<Arc<Announce>> {
        VerifyMemo::check(self, announce)
    }
}

/// One memo shared by the routers of a single-threaded simulation: each
/// announce is verified once for all of them, and every table holds the
/// same copy. Not `Send`: a node's router owns its own [`VerifyMemo`].
#[derive(Debug, Clone, Default)]
pub struct SharedMemo(Rc<RefCell<VerifyMemo>>);

impl AnnounceCheck for SharedMemo {
    fn check(&mut self, announce: &Announce) -> Option<Arc<Announce>> {
        // Never re-entered: `VerifyMemo::check` calls nothing that could
        // reach a router.
        self.0.borrow_mut().check(announce)
    }
}

const MEMO_ENTRIES: usize = 16_384;

impl VerifyMemo {
    /// Checks `announce`, reusing an earlier answer for the same body; the
    /// shared copy when it is valid.
    pub fn check(&mut self, announce: &Announce) -> Option<Arc<Announce>> {
        let body = announce.to_body();
        if let Some(known) = self.checked.get(&body) {
            return known.clone();
        }
        let checked = announce.verify().then(|| Arc::new(*announce));
        if self.checked.len() >= MEMO_ENTRIES {
            self.checked.clear();
        }
        self.checked.insert(body, checked.clone());
        checked
    }

    /// Whether `announce` is validly signed (see [`VerifyMemo::check`]).
    pub fn verify(&mut self, announce: &Announce) -> bool {
        self.check(announce).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announce_verifies_and_any_changed_byte_breaks_it() {
        let identity = NodeIdentity::from_secret([5; 32]);
        let announce = Announce::create(&identity, 3, 42);
        assert!(announce.verify());
        assert_eq!(announce.address(), identity.address());
        assert_eq!(Announce::from_body(&announce.to_body()), announce);
        let body = announce.to_body();
        for i in (0..ANNOUNCE_BODY).step_by(7) {
            let mut tampered = body;
            tampered[i] ^= 0x01;
            assert!(!Announce::from_body(&tampered).verify(), "byte {i}");
        }
    }

    #[test]
    fn the_memo_gives_the_same_answers() {
        let identity = NodeIdentity::from_secret([6; 32]);
        let good = Announce::create(&identity, 0, 1);
        let mut bad = good;
        bad.sequence = 2;
        let mut memo = VerifyMemo::default();
        for _ in 0..3 {
            assert!(memo.verify(&good));
            assert!(!memo.verify(&bad));
        }
    }
}
