//! The RAK3172 (RUI3) AT command set in LoRa P2P mode (lora-radio.md §2).
//!
//! Owns: the command texts ([`Cmd`]), the `AT+P2P` settings format ([`P2p`]),
//! and the reading of one line from the modem ([`Line`]). No
//! state: what a line means for the driver is decided in `session` and `lib`.
//!
//! ```text
//! AT                                   -> OK
//! AT+PRECV=0                           -> OK            (stop receiving; setters are busy while receiving)
//! AT+VER=?                             -> AT+VER=RUI_4.2.1_RAK3172-E, OK
//! AT+NWM=?                             -> AT+NWM=0, OK  (0: LoRa P2P, 1: LoRaWAN)
//! AT+NWM=0                             -> OK, then the module reboots (banner)
//! AT+P2P=868100000:7:125:0:8:14        -> OK | AT_PARAM_ERROR (bandwidth in kHz, or as an index 0..=9)
//! AT+P2P=?                             -> AT+P2P=868100000:7:0:0:8:14, OK (bandwidth in kHz or as an index)
//! AT+PRECV=65533                       -> OK            (receive; sending allowed, 3.4.0 on)
//! AT+PRECV=65534                       -> OK            (receive; sending refused as busy)
//! AT+PSEND=48656C6C6F                  -> OK, later +EVT:TXP2P DONE (4.0.2 on)
//! +EVT:RXP2P:-37:11:48656C6C6F                          (received, RUI3)
//! +EVT:RXP2P, RSSI -37, SNR 11 / +EVT:48656C6C6F         (received, the older two-line format)
//! ```
//!
//! docs/lora.md says which firmware release does what, and where each fact
//! was read.

use serde::{Deserialize, Serialize};
use weft_plugin_api::actions::RadioInfo;
use weft_plugin_api::config_table::ConfigError;
use weft_plugin_api::radio::LoraParams;

/// Settings as `AT+P2P` takes and reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct P2p {
    /// Centre frequency, Hz.
    pub frequency_hz: u32,
    /// Spreading factor.
    pub spreading_factor: u8,
    /// Bandwidth, kHz (125, 250 or 500).
    pub bandwidth_khz: u16,
    /// Coding rate index: 0..=3 for 4/5..4/8.
    pub coding_rate_index: u8,
    /// Preamble length, symbols.
    pub preamble_symbols: u16,
    /// Transmit power, dBm.
    pub tx_power_dbm: i8,
}

/// Bandwidths the driver configures, kHz (also indexes 0, 1 and 2).
pub const BANDWIDTHS_KHZ: [u16; 3] = [125, 250, 500];

/// What each bandwidth index stands for, Hz (RUI3's `AT+PBW` help: 0..=2
/// are 125, 250 and 500 kHz, 3..=9 the narrow ones).
pub const BANDWIDTH_INDEX_HZ: [u32; 10] =
    [125_000, 250_000, 500_000, 7_800, 10_400, 15_600, 20_800, 31_250, 41_700, 62_500];

/// How the bandwidth field of `AT+P2P=` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandwidthField {
    /// kHz (125): what RUI3 3.2 to 3.4 take, and later releases as an alias.
    Khz,
    /// The index (0 for 125 kHz): what some 3.5 releases take exclusively.
    Index,
}

/// Largest difference between configured and reported frequency, Hz.
pub const FREQUENCY_TOLERANCE_HZ: u32 = 100;

impl P2p {
    /// Only for `Default` impls that cannot fail: the EU868 defaults.
    pub const FALLBACK: P2p = P2p {
        frequency_hz: 868_100_000,
        spreading_factor: 7,
        bandwidth_khz: 125,
        coding_rate_index: 0,
        preamble_symbols: 8,
        tx_power_dbm: 14,
    };

    /// The settings for validated radio parameters; `Err` names the key the
    /// modem cannot do.
    pub fn from_params(radio: &LoraParams) -> Result<P2p, ConfigError> {
        let Some(&bandwidth_khz) = BANDWIDTHS_KHZ.iter().find(|&&khz| u32::from(khz) * 1000 == radio.bandwidth_hz)
        else {
            return Err(ConfigError::invalid(
                "bandwidth_hz",
                format!(
                    "{} Hz is not available in the modem's P2P mode (125000, 250000 or 500000)",
                    radio.bandwidth_hz
                ),
            ));
        };
        if !(5..=8).contains(&radio.coding_rate) {
            return Err(ConfigError::invalid("coding_rate", format!("{} is outside 5..=8", radio.coding_rate)));
        }
        Ok(P2p {
            frequency_hz: radio.frequency_hz,
            spreading_factor: radio.spreading_factor,
            bandwidth_khz,
            coding_rate_index: radio.coding_rate - 5,
            preamble_symbols: radio.preamble_symbols,
            tx_power_dbm: radio.tx_power_dbm,
        })
    }

    /// `868100000:7:125:0:8:14`.
    pub fn to_text(&self) -> String {
        self.to_text_as(BandwidthField::Khz)
    }

    /// `868100000:7:125:0:8:14`, or with the bandwidth as an index
    /// (`868100000:7:0:0:8:14`).
    pub fn to_text_as(&self, field: BandwidthField) -> String {
        let bandwidth = match field {
            BandwidthField::Khz => self.bandwidth_khz,
            BandwidthField::Index => BANDWIDTHS_KHZ.iter().position(|&k| k == self.bandwidth_khz).unwrap_or(0) as u16,
        };
        format!(
            "{}:{}:{}:{}:{}:{}",
            self.frequency_hz,
            self.spreading_factor,
            bandwidth,
            self.coding_rate_index,
            self.preamble_symbols,
            self.tx_power_dbm
        )
    }

    /// Reads `AT+P2P=868100000:7:125:0:8:14` (the answer to `AT+P2P=?`),
    /// with the bandwidth in kHz or as an index (0..=9; newer releases
    /// print the index). A narrow bandwidth (index 3..=9) reads as its
    /// whole kHz, which no configuration asks for.
    pub fn parse(line: &str) -> Option<P2p> {
        let fields = line.strip_prefix("AT+P2P=")?;
        let mut it = fields.split(':').map(str::trim);
        let p2p = P2p {
            frequency_hz: it.next()?.parse().ok()?,
            spreading_factor: it.next()?.parse().ok()?,
            bandwidth_khz: bandwidth_khz(it.next()?.parse().ok()?)?,
            coding_rate_index: it.next()?.parse().ok()?,
            preamble_symbols: it.next()?.parse().ok()?,
            tx_power_dbm: it.next()?.parse().ok()?,
        };
        if it.next().is_some() {
            return None;
        }
        Some(p2p)
    }

    /// Coding rate denominator (5..=8).
    pub fn coding_rate(&self) -> u8 {
        self.coding_rate_index.saturating_add(5)
    }

    /// What differs from `want`, one entry per setting, by config key.
    pub fn mismatches(&self, want: &P2p) -> Vec<String> {
        let mut wrong = Vec::new();
        if self.frequency_hz.abs_diff(want.frequency_hz) > FREQUENCY_TOLERANCE_HZ {
            wrong.push(format!(
                "frequency_hz {}, configured {} (tolerance {FREQUENCY_TOLERANCE_HZ} Hz)",
                self.frequency_hz, want.frequency_hz
            ));
        }
        if self.spreading_factor != want.spreading_factor {
            wrong.push(format!("spreading_factor {}, configured {}", self.spreading_factor, want.spreading_factor));
        }
        if self.bandwidth_khz != want.bandwidth_khz {
            wrong.push(format!(
                "bandwidth_hz {}, configured {}",
                u32::from(self.bandwidth_khz) * 1000,
                u32::from(want.bandwidth_khz) * 1000
            ));
        }
        if self.coding_rate_index != want.coding_rate_index {
            wrong.push(format!("coding_rate {}, configured {}", self.coding_rate(), want.coding_rate()));
        }
        if self.preamble_symbols != want.preamble_symbols {
            wrong.push(format!("preamble_symbols {}, configured {}", self.preamble_symbols, want.preamble_symbols));
        }
        if self.tx_power_dbm != want.tx_power_dbm {
            wrong.push(format!("tx_power_dbm {}, configured {}", self.tx_power_dbm, want.tx_power_dbm));
        }
        wrong
    }

    /// The radio parameters for the host.
    pub fn radio_info(&self, mtu: u16) -> RadioInfo {
        RadioInfo {
            mtu,
            frequency_hz: self.frequency_hz,
            bandwidth_hz: u32::from(self.bandwidth_khz) * 1000,
            spreading_factor: self.spreading_factor,
            coding_rate: self.coding_rate(),
            preamble_symbols: self.preamble_symbols,
            tx_power_dbm: self.tx_power_dbm,
        }
    }
}

/// The bandwidth a reported field means, kHz: an index 0..=9 or 125, 250, 500.
fn bandwidth_khz(field: u16) -> Option<u16> {
    if BANDWIDTHS_KHZ.contains(&field) {
        return Some(field);
    }
    let hz = *BANDWIDTH_INDEX_HZ.get(usize::from(field))?;
    u16::try_from(hz / 1000).ok()
}

/// A firmware release, as `AT+VER=?` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Release(pub u8, pub u8, pub u8);

impl Release {
    /// The first `N.N.N` in an `AT+VER=` answer (`RUI_4.2.1_RAK3172-E`,
    /// `3.2.0-p2_22q1_final.87`).
    pub fn find_in(text: &str) -> Option<Release> {
        text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|token| {
            let mut parts = token.split('.').map(|p| p.parse::<u8>().ok());
            Some(Release(parts.next()??, parts.next()??, parts.next()??))
        })
    }

    /// `AT+PRECV=65533`: receive continuously and send without leaving
    /// receive (RUI3 3.4.0 on, `service_lora_p2p_recv`).
    pub fn receives_while_sending(self) -> bool {
        self >= Release(3, 4, 0)
    }

    /// A send ends with `+EVT:TXP2P DONE` (from 4.0.2; with its line end
    /// from 4.0.4).
    pub fn reports_tx_done(self) -> bool {
        self >= Release(4, 0, 4)
    }

    /// Releases that surely never report the end of a send.
    pub fn never_reports_tx_done(self) -> bool {
        self < Release(4, 0, 2)
    }
}

/// The receive mode the driver keeps the modem in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveMode {
    /// `AT+PRECV=65533`: sends go out without leaving receive.
    WithSend,
    /// `AT+PRECV=65534`: each send is `AT+PRECV=0`, the send, then this again.
    LeaveToSend,
}

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// `AT`: is anyone there.
    Attention,
    /// `AT+PRECV=0`: stop receiving (and any transmission).
    StopReceive,
    /// `AT+VER=?`: which release.
    QueryVersion,
    /// `AT+NWM=?`: LoRa P2P or LoRaWAN.
    QueryMode,
    /// `AT+NWM=0`: LoRa P2P mode (the module reboots to apply it).
    P2pMode,
    /// Nothing written: wait for the reboot `AT+NWM=0` causes.
    AwaitReboot,
    /// `AT+P2P=...`: apply settings, bandwidth written as given.
    SetP2p(P2p, BandwidthField),
    /// `AT+P2P=?`: report settings.
    QueryP2p,
    /// `AT+PRECV=65533` or `65534`: receive continuously.
    Receive(ReceiveMode),
    /// `AT+PSEND=<hex>`: transmit.
    Send {
        /// The host's transmit id.
        id: u64,
        /// The on-air bytes, uppercase hex.
        hex: String,
        /// Their time on air, ms.
        airtime_ms: u64,
    },
}

impl Cmd {
    /// The command line, without the line end (empty: nothing to write).
    pub fn text(&self) -> String {
        match self {
            Cmd::Send { hex, .. } => format!("AT+PSEND={hex}"),
            Cmd::AwaitReboot => String::new(),
            other => other.label(),
        }
    }

    /// The command as logs and link details name it (a send without its payload).
    pub fn label(&self) -> String {
        match self {
            Cmd::Attention => "AT".into(),
            Cmd::StopReceive => "AT+PRECV=0".into(),
            Cmd::QueryVersion => "AT+VER=?".into(),
            Cmd::QueryMode => "AT+NWM=?".into(),
            Cmd::P2pMode => "AT+NWM=0".into(),
            Cmd::AwaitReboot => "the reboot after AT+NWM=0".into(),
            Cmd::SetP2p(p2p, field) => format!("AT+P2P={}", p2p.to_text_as(*field)),
            Cmd::QueryP2p => "AT+P2P=?".into(),
            Cmd::Receive(ReceiveMode::WithSend) => "AT+PRECV=65533".into(),
            Cmd::Receive(ReceiveMode::LeaveToSend) => "AT+PRECV=65534".into(),
            Cmd::Send { hex, .. } => format!("AT+PSEND ({} bytes)", hex.len() / 2),
        }
    }
}

/// What one line from the modem is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// `OK`.
    Ok,
    /// `AT_BUSY_ERROR`: try again shortly.
    Busy,
    /// Another `AT_...ERROR` (`AT_ERROR`, `AT_PARAM_ERROR`, ...).
    Error(&'a str),
    /// `AT+P2P=f:sf:bw:cr:pre:pwr`.
    Settings(P2p),
    /// `AT+VER=...`: the release, when it names one.
    Version(Option<Release>),
    /// `AT+NWM=0` (P2P) or `AT+NWM=1` (LoRaWAN).
    WorkMode(u8),
    /// `P2P_RX_ON ...`: the firmware's reason for the `AT_BUSY_ERROR` that follows.
    Notice,
    /// `+EVT:TXP2P DONE`.
    TxDone,
    /// `+EVT:RXP2P:<rssi>:<snr>:<hex>`.
    Received {
        /// RSSI, dBm.
        rssi: Option<i16>,
        /// SNR, dB.
        snr: Option<f32>,
        /// The payload, hex.
        hex: &'a str,
    },
    /// `+EVT:RXP2P, RSSI -37, SNR 11` (older firmware; the payload follows).
    ReceivedMeta {
        /// RSSI, dBm.
        rssi: Option<i16>,
        /// SNR, dB.
        snr: Option<f32>,
    },
    /// Any other `+EVT:` line, with what follows `+EVT:` (older firmware's payload line).
    Event(&'a str),
    /// A boot banner line: the modem (re)started.
    Banner,
    /// Anything else.
    Other,
}

/// Reads one line (without its line end).
pub fn classify(line: &str) -> Line<'_> {
    let line = line.trim();
    if line.contains("RAKwireless") || line.contains("Current Work Mode") {
        return Line::Banner;
    }
    match line {
        "OK" => return Line::Ok,
        "AT_BUSY_ERROR" => return Line::Busy,
        "+EVT:TXP2P DONE" => return Line::TxDone,
        _ => {}
    }
    if line.starts_with("AT_") && line.ends_with("ERROR") {
        return Line::Error(line);
    }
    if let Some(p2p) = P2p::parse(line) {
        return Line::Settings(p2p);
    }
    if let Some(version) = line.strip_prefix("AT+VER=") {
        return Line::Version(Release::find_in(version));
    }
    match line {
        "AT+NWM=0" => return Line::WorkMode(0),
        "AT+NWM=1" => return Line::WorkMode(1),
        _ => {}
    }
    if line.starts_with("P2P_RX_ON") {
        return Line::Notice;
    }
    let Some(event) = line.strip_prefix("+EVT:") else { return Line::Other };
    if let Some(rest) = event.strip_prefix("RXP2P:") {
        let mut it = rest.splitn(3, ':');
        let (Some(rssi), Some(snr), Some(hex)) = (it.next(), it.next(), it.next()) else { return Line::Other };
        return Line::Received { rssi: rssi.trim().parse().ok(), snr: snr.trim().parse().ok(), hex: hex.trim() };
    }
    if let Some(rest) = event.strip_prefix("RXP2P,") {
        let (mut rssi, mut snr) = (None, None);
        for part in rest.split(',').map(str::trim) {
            if let Some(v) = part.strip_prefix("RSSI") {
                rssi = v.trim().parse().ok();
            } else if let Some(v) = part.strip_prefix("SNR") {
                snr = v.trim().parse().ok();
            }
        }
        return Line::ReceivedMeta { rssi, snr };
    }
    Line::Event(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2p_settings_round_trip_and_name_mismatches() {
        let p2p = P2p::from_params(&LoraParams::default()).unwrap();
        assert_eq!(p2p.to_text(), "868100000:7:125:0:8:14");
        assert_eq!(P2p::parse("AT+P2P=868100000:7:125:0:8:14"), Some(p2p));
        assert_eq!(P2p::parse("AT+P2P=?"), None);
        assert_eq!(P2p::parse("AT+P2P=868100000:7:125:0:8:14:9"), None);
        let other = P2p { spreading_factor: 9, frequency_hz: 868_100_050, ..p2p };
        assert_eq!(other.mismatches(&p2p), vec!["spreading_factor 9, configured 7".to_string()]);
        let bw = LoraParams { bandwidth_hz: 62_500, ..LoraParams::default() };
        assert!(P2p::from_params(&bw).unwrap_err().to_string().contains("`bandwidth_hz`"));
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(classify("OK"), Line::Ok);
        assert_eq!(classify("AT_BUSY_ERROR"), Line::Busy);
        assert_eq!(classify("AT_PARAM_ERROR"), Line::Error("AT_PARAM_ERROR"));
        assert_eq!(classify("+EVT:TXP2P DONE"), Line::TxDone);
        assert_eq!(
            classify("+EVT:RXP2P:-37:11:48656C6C6F"),
            Line::Received { rssi: Some(-37), snr: Some(11.0), hex: "48656C6C6F" }
        );
        assert_eq!(classify("+EVT:RXP2P, RSSI -37, SNR 11"), Line::ReceivedMeta { rssi: Some(-37), snr: Some(11.0) });
        assert_eq!(classify("+EVT:48656C6C6F"), Line::Event("48656C6C6F"));
        assert_eq!(classify("RAKwireless RAK3172-E Example"), Line::Banner);
        assert_eq!(classify("Current Work Mode: LoRa P2P."), Line::Banner);
        assert_eq!(classify("whatever"), Line::Other);
    }

    #[test]
    fn reported_bandwidth_is_read_in_both_forms() {
        let index = P2p::parse("AT+P2P=868100000:7:0:0:8:14").unwrap();
        let khz = P2p::parse("AT+P2P=868100000:7:125:0:8:14").unwrap();
        assert_eq!((index.bandwidth_khz, khz.bandwidth_khz), (125, 125));
        assert_eq!(P2p::parse("AT+P2P=868100000:7:2:0:8:14").unwrap().bandwidth_khz, 500);
        assert_eq!(P2p::parse("AT+P2P=868100000:7:9:0:8:14").unwrap().bandwidth_khz, 62);
        assert_eq!(P2p::parse("AT+P2P=868100000:7:10:0:8:14"), None);
        assert_eq!(khz.to_text_as(BandwidthField::Index), "868100000:7:0:0:8:14");
    }

    #[test]
    fn releases_are_found_in_version_answers() {
        assert_eq!(Release::find_in("RUI_4.2.1_RAK3172-E"), Some(Release(4, 2, 1)));
        assert_eq!(Release::find_in("3.2.0-p2_22q1_final.87"), Some(Release(3, 2, 0)));
        assert_eq!(Release::find_in("RUI_3.4.11_RAK3172-E"), Some(Release(3, 4, 11)));
        assert_eq!(Release::find_in("unknown"), None);
        assert_eq!(classify("AT+VER=RUI_4.2.1_RAK3172-E"), Line::Version(Some(Release(4, 2, 1))));
        assert_eq!(classify("AT+NWM=1"), Line::WorkMode(1));
        assert_eq!(classify("P2P_RX_ON already, please disable P2P RX before setting."), Line::Notice);
        assert!(Release(3, 4, 0).receives_while_sending() && !Release(3, 3, 9).receives_while_sending());
        assert!(Release(4, 0, 4).reports_tx_done() && !Release(4, 0, 2).reports_tx_done());
        assert!(Release(4, 0, 1).never_reports_tx_done() && !Release(4, 0, 2).never_reports_tx_done());
    }
}
