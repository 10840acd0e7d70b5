//! What the driver counts, and the `status` command's JSON.
//!
//! Owns: [`Counters`] (carried across hot swaps in the state blob).

use crate::session::Stats;
use serde::{Deserialize, Serialize};

/// The driver's counters. The session's, the line reader's and the
/// joiner's own counts are gathered into this when it is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Frames the modem sent (TXP2P DONE).
    pub frames_tx: u64,
    /// Frames received and delivered.
    pub frames_rx: u64,
    /// Transmits reported `ok = false`.
    pub tx_failed: u64,
    /// Transmits refused for their size (empty or over the MTU).
    pub tx_rejected: u64,
    /// Times the modem printed its boot banner.
    pub resets: u64,
    /// The session's counters.
    pub session: Stats,
    /// Lines over the length cap.
    pub overlong_lines: u64,
    /// Lines the driver did not understand.
    pub unrecognised_lines: u64,
    /// Received payloads that were not valid hex.
    pub bad_hex: u64,
    /// Received frames with nothing to deliver.
    pub empty_frames: u64,
    /// RNode-compatible mode: packets joined from two halves.
    pub joined: u64,
    /// RNode-compatible mode: halves dropped without their partner.
    pub dropped_halves: u64,
}
