//! What the driver counts, and the `status` command's JSON.
//!
//! Owns: [`Counters`] (carried across hot swaps in the state blob).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Serial bytes and frames the driver threw away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Garbage {
    /// Frames longer than the modem's MTU.
    pub oversize: u64,
    /// Frames with a broken escape sequence.
    pub bad_escape: u64,
    /// Half frames dropped after the line went quiet.
    pub abandoned: u64,
    /// Bytes outside any frame.
    pub noise_bytes: u64,
    /// Known commands with a payload of the wrong length.
    pub malformed: u64,
    /// DATA frames with no payload.
    pub empty_data: u64,
}

impl Garbage {
    /// Field-wise sum.
    pub fn plus(self, other: Garbage) -> Garbage {
        Garbage {
            oversize: self.oversize + other.oversize,
            bad_escape: self.bad_escape + other.bad_escape,
            abandoned: self.abandoned + other.abandoned,
            noise_bytes: self.noise_bytes + other.noise_bytes,
            malformed: self.malformed + other.malformed,
            empty_data: self.empty_data + other.empty_data,
        }
    }

    /// All of it.
    pub fn total(&self) -> u64 {
        self.oversize + self.bad_escape + self.abandoned + self.noise_bytes + self.malformed + self.empty_data
    }
}

/// The driver's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Frames the modem took.
    pub frames_tx: u64,
    /// Frames received.
    pub frames_rx: u64,
    /// Transmits reported `ok = false`.
    pub tx_failed: u64,
    /// Transmits reported sent without the modem's READY confirmation.
    pub tx_unconfirmed: u64,
    /// Transmits refused for their size (empty or over the MTU).
    pub tx_rejected: u64,
    /// Times the modem announced it had booted.
    pub resets: u64,
    /// ERROR frames by name.
    pub errors: BTreeMap<String, u64>,
    /// Garbage (the decoder's share is added when read).
    pub garbage: Garbage,
    /// Frames of commands the driver does not use.
    pub ignored_frames: u64,
}
