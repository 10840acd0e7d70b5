//! Timer ids.
//!
//! Owns: how a timer id is made. The low byte says what the timer is for,
//! the rest is the number of the command send that armed it. A timer armed
//! for an earlier command can still fire after that command finished (it may
//! already be queued when it is cancelled); its number no longer matches the
//! command in flight and it is ignored.

/// The command in flight has not been answered in time.
pub const COMMAND: u8 = 1;
/// Send the command in flight again after AT_BUSY_ERROR.
pub const BUSY_RETRY: u8 = 2;

/// The id of timer `kind` for command send number `seq`.
pub fn id(kind: u8, seq: u64) -> u64 {
    (seq << 8) | u64::from(kind)
}

/// `(kind, seq)` of a timer id.
pub fn split(id: u64) -> (u8, u64) {
    ((id & 0xFF) as u8, id >> 8)
}
