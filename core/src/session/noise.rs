//! The Noise handshake: `Noise_KK_25519_ChaChaPoly_SHA256` through `snow`.
//!
//! Owns: building snow handshake states with this node's static key, the
//! peer's static key (both nodes know each other's from signed announces, so
//! KK fits: two messages, mutual authentication, forward secrecy from the
//! ephemerals) and a caller-supplied RNG seed, so a simulation is
//! reproducible and the node draws its ephemerals from its own CSPRNG.
//! Must not: hand-roll any key schedule (snow is the reference), parse packets.

use rand::{RngCore, SeedableRng, rngs::StdRng};
use snow::params::{CipherChoice, DHChoice, HashChoice, NoiseParams};
use snow::resolvers::{CryptoResolver, DefaultResolver, FallbackResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use snow::{HandshakeState, StatelessTransportState};

/// The Noise protocol name.
pub const PATTERN: &str = "Noise_KK_25519_ChaChaPoly_SHA256";
/// Bytes a handshake message adds to its payload: an ephemeral key and a tag.
pub const HANDSHAKE_OVERHEAD: usize = 32 + 16;
/// Bytes of an AEAD tag.
pub const TAG: usize = 16;

/// Handshake and transport errors (from snow: a forged or damaged message).
pub type NoiseError = snow::Error;

/// One handshake's RNG: ChaCha seeded by the session layer's CSPRNG.
struct SeededRandom(StdRng);

impl Random for SeededRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// Supplies only the RNG; the primitives come from snow's default resolver.
struct SeedResolver([u8; 32]);

impl CryptoResolver for SeedResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(SeededRandom(StdRng::from_seed(self.0))))
    }
    fn resolve_dh(&self, _: &DHChoice) -> Option<Box<dyn Dh>> {
        None
    }
    fn resolve_hash(&self, _: &HashChoice) -> Option<Box<dyn Hash>> {
        None
    }
    fn resolve_cipher(&self, _: &CipherChoice) -> Option<Box<dyn Cipher>> {
        None
    }
}

fn builder(seed: [u8; 32]) -> Result<snow::Builder<'static>, NoiseError> {
    let params: NoiseParams = PATTERN.parse()?;
    let resolver = FallbackResolver::new(Box::new(SeedResolver(seed)), Box::new(DefaultResolver));
    Ok(snow::Builder::with_resolver(params, Box::new(resolver)))
}

/// Which side of the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Writes the first message.
    Initiator,
    /// Answers it.
    Responder,
}

/// A handshake state for `role`, bound to `prologue` (both sides must give
/// the same bytes: the header fields the handshake does not encrypt).
pub fn handshake(
    role: Role,
    own_secret: &[u8; 32],
    peer_static: &[u8; 32],
    prologue: &[u8],
    seed: [u8; 32],
) -> Result<HandshakeState, NoiseError> {
    let b = builder(seed)?.local_private_key(own_secret)?.remote_public_key(peer_static)?.prologue(prologue)?;
    match role {
        Role::Initiator => b.build_initiator(),
        Role::Responder => b.build_responder(),
    }
}

/// Finishes a handshake into transport keys with explicit nonces.
pub fn transport(state: HandshakeState) -> Result<StatelessTransportState, NoiseError> {
    state.into_stateless_transport_mode()
}
