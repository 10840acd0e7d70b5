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
//! { "driver": "weft-driver-rnode", "format": 1,
//!   "port_open": bool, "detected": bool, "up": bool,
//!   "firmware": {"major": u8, "minor": u8} | null, "platform": u8 | null, "mcu": u8 | null,
//!   "applied": {"frequency_hz": u32|null, "bandwidth_hz", "tx_power_dbm", "spreading_factor",
//!               "coding_rate", "radio_state", "st_alock", "lt_alock"},
//!   "counters": {"frames_tx", "frames_rx", "tx_failed", "tx_unconfirmed", "tx_rejected", "resets",
//!                "errors": {name: count}, "garbage": {...}, "ignored_frames"} }
//! ```

use crate::protocol::Firmware;
use crate::status::Counters;
use crate::sync::Applied;
use serde::{Deserialize, Serialize};
use weft_plugin_api::StateBlob;

/// The `driver` field of this driver's blobs.
pub const DRIVER: &str = "weft-driver-rnode";
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
    /// Whether the modem was detected and configured (or being configured).
    pub detected: bool,
    /// Whether the link was up.
    pub up: bool,
    /// Firmware version.
    pub firmware: Option<Firmware>,
    /// Platform byte.
    pub platform: Option<u8>,
    /// MCU byte.
    pub mcu: Option<u8>,
    /// The settings the modem echoed.
    pub applied: Applied,
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
            firmware: Some(Firmware { major: 1, minor: 74 }),
            ..Handoff::default()
        };
        assert_eq!(Handoff::decode(Some(&blob.encode())), Ok(Some(blob.clone())));
        assert_eq!(Handoff::decode(None), Ok(None));
        assert!(Handoff::decode(Some(&[0xff, 0x00, 0x13])).is_err());
        let other = Handoff { driver: "weft-driver-atmodem".into(), ..blob.clone() };
        assert!(Handoff::decode(Some(&other.encode())).unwrap_err().contains("weft-driver-atmodem"));
        let future = Handoff { format: 2, ..blob };
        assert!(Handoff::decode(Some(&future.encode())).is_err());
    }
}
