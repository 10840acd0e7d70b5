//! The fields of handshake packets (kind 7), after the destination.
//!
//! Owns: the byte layout of the three handshake steps and of what the Noise
//! payloads carry. The routed header around them is `crate::routing::wire`.
//! Must not: run the handshake (`super::noise`) or keep state.
//!
//! ```text
//! init      initiator address (16) | Noise KK message 1: e (32) | sealed hello (12 + 16)
//! response  initiator's index u32  | Noise KK message 2: e (32) | sealed hello (12 + 16)
//! reset     sender (16) | index u32 | first refused counter (6) | sender boot u64 | Ed25519 signature (64)
//! hello     index u32 (what the peer puts in messages to this node) | boot u64 (this run's start, Unix ms)
//! ```

use crate::binary::{DecodeError, Reader};
use crate::routing::wire::COUNTER_BYTES;
use weft_plugin_api::Address;

/// Bytes of the hello each handshake message seals.
pub const HELLO: usize = 4 + 8;
/// Bytes of a Noise handshake message carrying a hello.
pub const NOISE_MESSAGE: usize = super::noise::HANDSHAKE_OVERHEAD + HELLO;
/// Bytes of a reset after the destination.
pub const RESET: usize = 16 + 4 + COUNTER_BYTES + 8 + 64;

/// What each side tells the other inside the handshake (encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The sender's number for the peer: messages to the sender carry it.
    pub index: u32,
    /// When the sender's current run started (Unix ms): a reset from a later
    /// run is believed, an older one is a replay.
    pub boot: u64,
}

impl Hello {
    /// The 12 bytes.
    pub fn encode(&self) -> [u8; HELLO] {
        let mut out = [0; HELLO];
        out[..4].copy_from_slice(&self.index.to_be_bytes());
        out[4..].copy_from_slice(&self.boot.to_be_bytes());
        out
    }

    /// Reads the 12 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Hello, DecodeError> {
        let mut r = Reader(bytes);
        let hello = Hello { index: u32::from_be_bytes(r.array("index")?), boot: r.u64("boot")? };
        r.end()?;
        Ok(hello)
    }
}

/// A reset: the sender holds no session for `index` (it restarted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    /// The node that refused the messages.
    pub sender: Address,
    /// The index those messages carried.
    pub index: u32,
    /// The lowest counter it refused: resend from there.
    pub counter: u64,
    /// When the sender's current run started (Unix ms).
    pub boot: u64,
    /// Ed25519 over [`Reset::signed_bytes`].
    pub signature: [u8; 64],
}

impl Reset {
    /// What the signature covers, bound to the destination.
    pub fn signed_bytes(&self, destination: &Address) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + 16 + RESET);
        out.extend_from_slice(b"weft session reset v1\0");
        out.extend_from_slice(&destination.0);
        out.extend_from_slice(&self.sender.0);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes()[8 - COUNTER_BYTES..]);
        out.extend_from_slice(&self.boot.to_be_bytes());
        out
    }

    /// The body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RESET);
        out.extend_from_slice(&self.sender.0);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes()[8 - COUNTER_BYTES..]);
        out.extend_from_slice(&self.boot.to_be_bytes());
        out.extend_from_slice(&self.signature);
        out
    }

    /// Reads the body bytes.
    pub fn decode(bytes: &[u8]) -> Result<Reset, DecodeError> {
        let mut r = Reader(bytes);
        let sender = Address(r.array("reset sender")?);
        let index = u32::from_be_bytes(r.array("reset index")?);
        let mut counter = [0u8; 8];
        counter[8 - COUNTER_BYTES..].copy_from_slice(&r.array::<COUNTER_BYTES>("reset counter")?);
        let boot = r.u64("reset boot")?;
        let signature = r.array("reset signature")?;
        r.end()?;
        Ok(Reset { sender, index, counter: u64::from_be_bytes(counter), boot, signature })
    }
}

/// The prologue both sides bind the handshake to.
pub fn prologue(initiator: &Address, responder: &Address) -> [u8; 16 + 32] {
    let mut out = [0; 48];
    out[..16].copy_from_slice(b"weft session v1\0");
    out[16..32].copy_from_slice(&initiator.0);
    out[32..].copy_from_slice(&responder.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_and_reset_round_trip_and_refuse_wrong_lengths() {
        let hello = Hello { index: 0xdead_beef, boot: 1_700_000_000_000 };
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
        assert!(Hello::decode(&hello.encode()[..11]).is_err());
        let reset = Reset { sender: Address([7; 16]), index: 9, counter: (1 << 48) - 1, boot: 5, signature: [3; 64] };
        let bytes = reset.encode();
        assert_eq!(bytes.len(), RESET);
        assert_eq!(Reset::decode(&bytes), Ok(reset));
        assert!(Reset::decode(&bytes[..RESET - 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(Reset::decode(&long).is_err());
    }
}
