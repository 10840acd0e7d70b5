//! The state blob one instance hands to its successor (hot swap, restart).
//!
//! Owns: [`Handoff`] and its layout (the owner and format checks are
//! `weft_plugin_api::StateBlob`). It is a CBOR map (via
//! `weft_plugin_api::internal::codec`) with every field optional, so an older or newer
//! build of this driver reads it (unknown fields are skipped, missing ones
//! take defaults). A blob that does not decode, or comes from another driver
//! or another major format, is refused and the successor starts fresh.
//!
//! ```text
//! { "driver": "weft-driver-atmodem", "format": 1,
//!   "port_open": bool, "up": bool,
//!   "applied": {"frequency_hz", "spreading_factor", "bandwidth_khz", "coding_rate_index",
//!               "preamble_symbols", "tx_power_dbm"} | null,
//!   "banner": text | null,
//!   "counters": {"frames_tx", "frames_rx", "tx_failed", "tx_rejected", "resets",
//!                "session": {"busy_retries", "timeouts", "stray_replies", "error_replies"}, "overlong_lines",
//!                "unrecognised_lines", "bad_hex", "empty_frames", "joined", "dropped_halves"} }
//! ```

use crate::at::P2p;
use crate::status::Counters;
use serde::{Deserialize, Serialize};
use weft_plugin_api::StateBlob;

/// The `driver` field of this driver's blobs.
pub const DRIVER: &str = "weft-driver-atmodem";
/// The blob format this build writes and reads. Adding fields keeps the
/// format; changing the meaning of one needs a new format.
pub const FORMAT: u32 = 1;

/// The state handed over.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Handoff {
    /// Always [`DRIVER`].
    pub driver: String,
    /// Always [`FORMAT`].
    pub format: u32,
    /// Whether the port was open.
    pub port_open: bool,
    /// Whether the link was up.
    pub up: bool,
    /// The settings the modem last reported.
    pub applied: Option<P2p>,
    /// The modem's boot banner, if seen.
    pub banner: Option<String>,
    /// Counters, continued by the successor.
    pub counters: Counters,
}

impl StateBlob for Handoff {
    const OWNER: &'static str = DRIVER;
    const FORMAT: u32 = FORMAT;

    fn stamp(&self) -> (&str, u32) {
        (&self.driver, self.format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        let blob = Handoff {
            driver: DRIVER.into(),
            format: FORMAT,
            port_open: true,
            applied: Some(P2p::FALLBACK),
            ..Handoff::default()
        };
        assert_eq!(Handoff::decode(Some(&blob.encode())), Ok(Some(blob.clone())));
        assert_eq!(Handoff::decode(None), Ok(None));
        assert!(Handoff::decode(Some(b"garbage")).is_err());
        let rnode = Handoff { driver: "weft-driver-rnode".into(), ..blob };
        assert!(Handoff::decode(Some(&rnode.encode())).is_err());
    }
}
