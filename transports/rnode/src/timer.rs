//! Timer ids.
//!
//! Owns: how a timer id is made. The low byte says what the timer is for,
//! the rest is the epoch (sync round or transmission) that armed it. A timer
//! armed in an earlier round can still fire after the round ended (it may
//! already be queued when it is cancelled); its epoch no longer matches and
//! it is ignored, so no stale timer can cut a new round short.

/// Detect burst retry.
pub const DETECT: u8 = 1;
/// Configuration echo deadline.
pub const CONFIGURE: u8 = 2;
/// Next READY poll while the modem's queue is full.
pub const READY_POLL: u8 = 3;
/// Give up waiting for READY.
pub const TX_DEADLINE: u8 = 4;
/// A half-received frame has sat too long (no epoch: re-armed on every chunk).
pub const LINE_IDLE: u8 = 5;

/// The id of timer `kind` armed in `epoch`.
pub fn id(kind: u8, epoch: u64) -> u64 {
    (epoch << 8) | u64::from(kind)
}

/// `(kind, epoch)` of a timer id.
pub fn split(id: u64) -> (u8, u64) {
    ((id & 0xFF) as u8, id >> 8)
}
