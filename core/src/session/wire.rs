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
//!
//! Also the plaintext of an acknowledgement ([`Ack`]), which travels as a
//! session message (kind 6) like any other.

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

/// First byte of an acknowledgement's plaintext. A data message's first
/// byte is its inner flags, which never set this bit.
pub const ACK_MARK: u8 = 0x80;

/// An acknowledgement, sealed in the session it acknowledges: what the
/// receiver has opened, as its replay window (`super::window`).
///
/// ```text
/// ack       0x80 | top (6) | words (8 each, at most 16)
/// ```
///
/// `top` is one more than the highest counter opened; bit `i` of word `w`
/// says counter `top - 1 - 64 * w - i` was opened. Words left out at the end
/// are all set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// One more than the highest counter opened.
    pub top: u64,
    /// The window below `top`, trailing all-set words left out.
    pub words: Vec<u64>,
}

/// Words an acknowledgement carries at most (the whole replay window).
pub const ACK_WORDS: usize = (super::window::WINDOW / 64) as usize;

impl Ack {
    /// An acknowledgement of `top` and `words` (at most [`ACK_WORDS`] are kept).
    pub fn new(top: u64, mut words: Vec<u64>) -> Ack {
        words.truncate(ACK_WORDS);
        Ack { top, words }
    }

    /// Whether the receiver opened `counter`. Counters at or past `top`, or
    /// older than the window, are not known to be opened.
    pub fn covers(&self, counter: u64) -> bool {
        if counter >= self.top {
            return false;
        }
        let age = self.top - 1 - counter;
        if age >= super::window::WINDOW {
            return false;
        }
        match self.words.get((age / 64) as usize) {
            Some(word) => word & (1 << (age % 64)) != 0,
            None => true,
        }
    }

    /// The plaintext.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + COUNTER_BYTES + 8 * self.words.len());
        out.push(ACK_MARK);
        out.extend_from_slice(&self.top.min(crate::routing::wire::MAX_COUNTER + 1).to_be_bytes()[8 - COUNTER_BYTES..]);
        for word in &self.words {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Reads the plaintext.
    pub fn decode(bytes: &[u8]) -> Result<Ack, DecodeError> {
        let mut r = Reader(bytes);
        if r.u8("ack mark")? != ACK_MARK {
            return Err(DecodeError::Bad("acknowledgement mark"));
        }
        let mut top = [0u8; 8];
        top[8 - COUNTER_BYTES..].copy_from_slice(&r.array::<COUNTER_BYTES>("ack top")?);
        let rest = r.rest();
        if rest.len() % 8 != 0 || rest.len() / 8 > ACK_WORDS {
            return Err(DecodeError::Bad("acknowledgement words"));
        }
        let words = rest
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Ok(Ack { top: u64::from_be_bytes(top), words })
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
