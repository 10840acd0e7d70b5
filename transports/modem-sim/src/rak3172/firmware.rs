//! Which RUI3 release the emulated RAK3172 runs, and what follows from it.
//!
//! Owns: [`FirmwareVersion`] and the behaviours that changed between
//! releases, each with where it was read in RAK's firmware source
//! (`RAKWireless/RAK-STM32-RUI`, `cores/STM32WLE/component/service/`, at
//! RUI_5.0.0, compared across its release commits):
//!
//! | behaviour | from | source |
//! |---|---|---|
//! | `AT+PRECV=65533`: continuous receive that may transmit, back to receive after each send | 3.4.0 | `lora/service_lora_p2p.c`, `service_lora_p2p_recv`, `OnTxDone` |
//! | `+EVT:TXP2P DONE` after a send | 4.0.2 | `OnTxDone` ("RUI-945" in RAK's changelog) |
//! | setters answer `AT_BUSY_ERROR` while receiving, after `P2P_RX_ON already, please disable P2P RX before setting.` | 4.0.6 | `mode/cli/atcmd_p2p.c`, every setter |
//!
//! Sending while receiving in any mode but 65533 is refused as busy in every
//! release (`service_lora_p2p_send`: `isRadioBusy && !isContinue_compatible_tx`).

/// An RUI3 release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FirmwareVersion {
    /// Major release.
    pub major: u8,
    /// Minor release.
    pub minor: u8,
    /// Patch release.
    pub patch: u8,
}

impl FirmwareVersion {
    /// RUI 4.2.1, a current release: every behaviour in the table above.
    pub const CURRENT: FirmwareVersion = FirmwareVersion::new(4, 2, 1);

    /// `major.minor.patch`.
    pub const fn new(major: u8, minor: u8, patch: u8) -> Self {
        FirmwareVersion { major, minor, patch }
    }

    /// Reads `4.2.1` (as given on the emulator's command line).
    pub fn parse(text: &str) -> Option<FirmwareVersion> {
        let mut parts = text.trim().splitn(3, '.').map(|p| p.parse::<u8>().ok());
        Some(FirmwareVersion::new(parts.next()??, parts.next()??, parts.next()??))
    }

    /// What `AT+VER=?` prints after `AT+VER=`.
    pub fn banner_text(&self) -> String {
        format!("RUI_{}.{}.{}_RAK3172-E", self.major, self.minor, self.patch)
    }

    /// `AT+PRECV=65533` exists (older releases take it as a 65533 ms window).
    pub fn has_receive_with_transmit(&self) -> bool {
        *self >= FirmwareVersion::new(3, 4, 0)
    }

    /// A send ends with `+EVT:TXP2P DONE`.
    pub fn reports_tx_done(&self) -> bool {
        *self >= FirmwareVersion::new(4, 0, 2)
    }

    /// Setters are refused while the radio receives or transmits.
    pub fn refuses_setup_while_receiving(&self) -> bool {
        *self >= FirmwareVersion::new(4, 0, 6)
    }
}

impl Default for FirmwareVersion {
    fn default() -> Self {
        FirmwareVersion::CURRENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_order_and_their_behaviours() {
        assert_eq!(FirmwareVersion::parse("3.4.11"), Some(FirmwareVersion::new(3, 4, 11)));
        assert_eq!(FirmwareVersion::parse("4.2"), None);
        assert_eq!(FirmwareVersion::parse("x.1.2"), None);
        let old = FirmwareVersion::new(3, 2, 0);
        assert!(!old.has_receive_with_transmit() && !old.reports_tx_done());
        let mid = FirmwareVersion::new(3, 4, 11);
        assert!(mid.has_receive_with_transmit() && !mid.reports_tx_done() && !mid.refuses_setup_while_receiving());
        let current = FirmwareVersion::CURRENT;
        assert!(current.reports_tx_done() && current.refuses_setup_while_receiving());
        assert_eq!(current.banner_text(), "RUI_4.2.1_RAK3172-E");
    }
}
