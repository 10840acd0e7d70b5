//! End-to-end sessions: every addressed message sealed, its sender verified.
//!
//! Two nodes that know each other's static keys (from signed announces) run
//! a Noise KK handshake (`snow`) once, then seal each message with
//! ChaCha20-Poly1305 under the session key and an explicit 48-bit counter as
//! the nonce: 46 bytes on the wire beyond the payload for a routed message
//! (docs/WIRE.md). The receiver's replay window takes each counter once and
//! tolerates reordering; the initiator rekeys on a schedule; a node that
//! restarted (keys are never written to disk: forward secrecy) answers a
//! message for a session it no longer holds with a signed reset, and the
//! sender starts a new session and resends from its ring.
//!
//! Owns: the session protocol and its state. Sans-IO and deterministic from
//! its seed, like the router that drives it.
//! Must not: route, persist, read clocks or the OS RNG, call plugins.

pub mod noise;
mod table;
pub mod window;
pub mod wire;

pub use table::{Directory, SessionConfig, SessionCounters, SessionOutput, SessionSend, Sessions};
