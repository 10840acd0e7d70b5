//! RAK3172 (RUI3 firmware) AT command emulation in LoRa P2P mode, sans-IO:
//! serial bytes in, serial bytes and radio requests out ([`Output`]), with
//! explicit time in microseconds.
//!
//! Owns: line assembly (`\r\n`, bare `\n` or bare `\r`; lines over 600
//! characters are discarded with `AT_ERROR`), the commands `AT`, `ATZ`,
//! `AT+VER`, `AT+NWM`, `AT+P2P`, `AT+PRECV` and `AT+PSEND` with their replies
//! (`OK`, `AT_ERROR`, `AT_PARAM_ERROR`, `AT_BUSY_ERROR`), the boot banner,
//! the `+EVT:TXP2P DONE` completion and the two `+EVT:RXP2P` reception
//! formats. Work mode and P2P settings survive a reboot (flash); receive mode
//! does not. Frames go on air as sent: no header byte, no splitting.
//!
//! By default the device does what RAK's documented firmware does
//! ([`FirmwareVersion`] and its module say which release does what, with the source of each
//! fact): a send while receiving is refused as busy unless receive mode is
//! 65533; setters are refused while receiving; `AT+NWM=` reboots the module;
//! `AT+P2P=?` prints the bandwidth in the release's [`BandwidthForm`].
//! [`Rui3Behaviour::lenient`] restores the emulator's earlier, forgiving
//! behaviour (send and configure in any receive mode, no reboot on
//! `AT+NWM`), only for tests that ask for it.
//!
//! One deliberate difference: in mode 65533 the firmware takes a second
//! `AT+PSEND` during a transmission and aborts the first; the emulator
//! answers `AT_BUSY_ERROR` instead (the medium cannot take a frame back).

mod firmware;
mod settings;

pub use firmware::FirmwareVersion;
use settings::number;
pub use settings::{BANDWIDTH_INDEX_HZ, BandwidthForm, P2pSettings};

use weft_plugin_api::radio::LoraParams;

use crate::{Output, RxFormat};

/// The longest command line accepted, characters.
pub const MAX_LINE: usize = 600;
/// The largest frame `AT+PSEND` takes, bytes.
pub const MAX_PAYLOAD: usize = 255;
/// The chip's maximum TX power, dBm.
pub const MAX_POWER_DBM: i8 = 22;
/// The chip's minimum TX power accepted by `AT+P2P`, dBm.
pub const MIN_POWER_DBM: i8 = 5;
/// `AT+PRECV` value for continuous reception that may transmit (3.4.0 on).
pub const PRECV_CONTINUOUS_TX: u32 = 65_533;
/// `AT+PRECV` value for continuous reception.
pub const PRECV_CONTINUOUS: u32 = 65_534;
/// `AT+PRECV` value for reception until one frame arrives.
pub const PRECV_ONE: u32 = 65_535;
/// First banner line printed at boot.
pub const BANNER: &str = "RAKwireless RAK3172-E Example";
/// What a current release prints before refusing a setter while receiving.
pub const RX_ON_SETTER: &str = "P2P_RX_ON already, please disable P2P RX before setting.";
/// What a current release prints before refusing a second continuous receive.
pub const RX_ON_ALREADY: &str = "P2P_RX_ON already";

/// The receiver's mode (`AT+PRECV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxMode {
    /// Not receiving.
    Off,
    /// Receiving until `AT+PRECV=0` (65534); sending is refused.
    Continuous,
    /// Receiving until `AT+PRECV=0`, sending allowed, back to receive after
    /// each send (65533).
    ContinuousTx,
    /// Receiving until one frame arrives (65535).
    One,
    /// Receiving until the given time (microseconds), then
    /// `+EVT:RXP2P RECEIVE TIMEOUT`.
    Until(u64),
}

impl RxMode {
    fn continuous(self) -> bool {
        matches!(self, RxMode::Continuous | RxMode::ContinuousTx)
    }
}

/// Which firmware behaviour a device follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rui3Behaviour {
    /// The release it runs (what `AT+VER=?` says and which rules apply).
    pub version: FirmwareVersion,
    /// How `AT+P2P` writes the bandwidth.
    pub bandwidth: BandwidthForm,
    /// Forgiving instead of documented: sends and setters accepted in any
    /// receive mode, no reboot on `AT+NWM`.
    pub lenient: bool,
}

impl Rui3Behaviour {
    /// Reads `+`-separated options after `rak3172` on the emulator's command
    /// line: `lenient`, `bw-khz`, `bw-index-only`, `vX.Y.Z`.
    pub fn parse_options(options: &str) -> Result<Rui3Behaviour, String> {
        let mut behaviour = Rui3Behaviour::default();
        for option in options.split('+').filter(|o| !o.is_empty()) {
            match option {
                "lenient" => behaviour.lenient = true,
                "bw-khz" => behaviour.bandwidth = BandwidthForm::Khz,
                "bw-index-only" => behaviour.bandwidth = BandwidthForm::IndexOnly,
                v if v.starts_with('v') => {
                    behaviour.version = FirmwareVersion::parse(&v[1..])
                        .ok_or_else(|| format!("RAK3172 option {v:?}: expected vMAJOR.MINOR.PATCH, e.g. v4.2.1"))?
                }
                other => {
                    return Err(format!(
                        "unknown RAK3172 option {other:?} (expected lenient, bw-khz, bw-index-only or vX.Y.Z)"
                    ));
                }
            }
        }
        Ok(behaviour)
    }
}

/// Per-device settings of the emulated hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rak3172Config {
    /// How received frames are reported.
    pub rx_format: RxFormat,
    /// The radio's maximum TX power, dBm (`AT+P2P` above it is refused).
    pub max_power_dbm: i8,
    /// Which release's documented behaviour it follows.
    pub firmware: Rui3Behaviour,
}

impl Default for Rak3172Config {
    fn default() -> Self {
        Rak3172Config { rx_format: RxFormat::New, max_power_dbm: MAX_POWER_DBM, firmware: Rui3Behaviour::default() }
    }
}

/// One emulated RAK3172.
#[derive(Debug, Clone)]
pub struct Rak3172 {
    config: Rak3172Config,
    line: Vec<u8>,
    overflow: bool,
    after_cr: bool,
    p2p: bool,
    settings: P2pSettings,
    rx: RxMode,
    transmitting: bool,
    serial_errors: u64,
}

const OK: &str = "OK";
const AT_ERROR: &str = "AT_ERROR";
const AT_PARAM_ERROR: &str = "AT_PARAM_ERROR";
const AT_BUSY_ERROR: &str = "AT_BUSY_ERROR";

impl Rak3172 {
    /// A device fresh from the factory (P2P mode, default settings) that has
    /// not booted yet (call [`Rak3172::boot`]).
    pub fn new(config: Rak3172Config) -> Rak3172 {
        Rak3172 {
            config,
            line: Vec::new(),
            overflow: false,
            after_cr: false,
            p2p: true,
            settings: P2pSettings::default(),
            rx: RxMode::Off,
            transmitting: false,
            serial_errors: 0,
        }
    }

    /// Power-on or reset: prints the banner; receive mode off, settings kept.
    pub fn boot(&mut self, out: &mut Output) {
        self.line.clear();
        self.overflow = false;
        self.after_cr = false;
        self.rx = RxMode::Off;
        self.transmitting = false;
        let mode = if self.p2p { "LoRa P2P" } else { "LoRaWAN" };
        Self::line_out(out, BANNER);
        Self::line_out(out, &format!("Current Work Mode: {mode}."));
        out.rebooted = true;
    }

    /// The P2P settings.
    pub fn settings(&self) -> P2pSettings {
        self.settings
    }

    /// The receiver's mode.
    pub fn rx_mode(&self) -> RxMode {
        self.rx
    }

    /// Whether a frame is on air.
    pub fn transmitting(&self) -> bool {
        self.transmitting
    }

    /// What the receiver listens on (`None` when not receiving; the medium
    /// itself keeps a transmitting radio deaf).
    pub fn receiving(&self) -> Option<LoraParams> {
        (self.p2p && self.rx != RxMode::Off).then(|| self.settings.params())
    }

    /// Lines refused so far (error replies), across reboots.
    pub fn serial_errors(&self) -> u64 {
        self.serial_errors
    }

    /// Whether part of a line has been received.
    pub fn partial_input(&self) -> bool {
        !self.line.is_empty() || self.overflow
    }

    fn line_out(out: &mut Output, line: &str) {
        out.serial.extend_from_slice(line.as_bytes());
        out.serial.extend_from_slice(b"\r\n");
    }

    fn error(&mut self, out: &mut Output, reply: &str) {
        self.serial_errors += 1;
        Self::line_out(out, reply);
    }

    /// Whether the radio is busy for a setter: receiving or transmitting.
    fn radio_busy(&self) -> bool {
        self.transmitting || self.rx != RxMode::Off
    }

    /// A setter that the documented firmware refuses while the radio is
    /// busy: prints why and answers busy, returning `true`.
    fn refuse_setter(&mut self, out: &mut Output) -> bool {
        let strict = !self.config.firmware.lenient && self.config.firmware.version.refuses_setup_while_receiving();
        let refused = if strict { self.radio_busy() } else { self.transmitting };
        if refused {
            if strict {
                Self::line_out(out, RX_ON_SETTER);
            }
            self.error(out, AT_BUSY_ERROR);
        }
        refused
    }

    /// Serial bytes from the host.
    pub fn serial_in(&mut self, bytes: &[u8], now: u64, out: &mut Output) {
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    self.end_line(now, out);
                }
                _ => {
                    self.after_cr = false;
                    if self.overflow {
                        continue;
                    }
                    if self.line.len() >= MAX_LINE {
                        self.overflow = true;
                        self.line.clear();
                    } else {
                        self.line.push(b);
                    }
                }
            }
        }
    }

    fn end_line(&mut self, now: u64, out: &mut Output) {
        if std::mem::take(&mut self.overflow) {
            self.line.clear();
            return self.error(out, AT_ERROR);
        }
        let line = std::mem::take(&mut self.line);
        let Ok(text) = std::str::from_utf8(&line) else { return self.error(out, AT_ERROR) };
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.command(text, now, out);
    }

    fn command(&mut self, text: &str, now: u64, out: &mut Output) {
        let (name, arg) = match text.split_once('=') {
            Some((name, arg)) => (name.to_ascii_uppercase(), Some(arg)),
            None => (text.to_ascii_uppercase(), None),
        };
        match (name.as_str(), arg) {
            ("AT", None) => Self::line_out(out, OK),
            ("ATZ", None) => self.boot(out),
            ("AT+VER", Some("?")) => {
                Self::line_out(out, &format!("AT+VER={}", self.config.firmware.version.banner_text()));
                Self::line_out(out, OK);
            }
            ("AT+NWM", Some("?")) => {
                Self::line_out(out, &format!("AT+NWM={}", u8::from(!self.p2p)));
                Self::line_out(out, OK);
            }
            ("AT+NWM", Some(mode @ ("0" | "1"))) => {
                if self.refuse_setter(out) {
                    return;
                }
                self.p2p = mode == "0";
                if !self.p2p {
                    self.rx = RxMode::Off;
                }
                Self::line_out(out, OK);
                if !self.config.firmware.lenient {
                    // `At_NwmSet` answers, then restarts the module to apply it.
                    self.boot(out);
                }
            }
            ("AT+NWM", Some(_)) => self.error(out, AT_PARAM_ERROR),
            ("AT+P2P", Some(_)) | ("AT+PRECV", Some(_)) | ("AT+PSEND", Some(_)) if !self.p2p => {
                self.error(out, AT_ERROR)
            }
            ("AT+P2P", Some("?")) => {
                Self::line_out(out, &format!("AT+P2P={}", self.settings.to_at(self.config.firmware.bandwidth)));
                Self::line_out(out, OK);
            }
            ("AT+P2P", Some(arg)) => {
                match P2pSettings::parse(arg, self.config.max_power_dbm, self.config.firmware.bandwidth) {
                    None => self.error(out, AT_PARAM_ERROR),
                    Some(_) if self.refuse_setter(out) => {}
                    Some(settings) => {
                        self.settings = settings;
                        Self::line_out(out, OK);
                    }
                }
            }
            ("AT+PRECV", Some("?")) => {
                let value = match self.rx {
                    RxMode::Off | RxMode::Until(_) => 0,
                    RxMode::Continuous => PRECV_CONTINUOUS,
                    RxMode::ContinuousTx => PRECV_CONTINUOUS_TX,
                    RxMode::One => PRECV_ONE,
                };
                Self::line_out(out, &format!("AT+PRECV={value}"));
                Self::line_out(out, OK);
            }
            ("AT+PRECV", Some(arg)) => match number::<u32>(arg).filter(|&v| v <= PRECV_ONE) {
                None => self.error(out, AT_PARAM_ERROR),
                // Stops receiving, and a transmission, from any state.
                Some(0) if !self.config.firmware.lenient => {
                    self.rx = RxMode::Off;
                    self.transmitting = false;
                    Self::line_out(out, OK);
                }
                Some(_) if self.transmitting => self.error(out, AT_BUSY_ERROR),
                Some(_) if !self.config.firmware.lenient && self.rx.continuous() => {
                    if self.config.firmware.version.refuses_setup_while_receiving() {
                        Self::line_out(out, RX_ON_ALREADY);
                    }
                    self.error(out, AT_BUSY_ERROR)
                }
                Some(value) => {
                    self.rx = match value {
                        0 => RxMode::Off,
                        PRECV_CONTINUOUS_TX if self.config.firmware.version.has_receive_with_transmit() => {
                            RxMode::ContinuousTx
                        }
                        PRECV_CONTINUOUS => RxMode::Continuous,
                        PRECV_ONE => RxMode::One,
                        ms => RxMode::Until(now + u64::from(ms.max(15)) * 1000),
                    };
                    Self::line_out(out, OK);
                }
            },
            ("AT+PSEND", Some(arg)) => match weft_plugin_api::hex::decode(arg)
                .filter(|b| (1..=MAX_PAYLOAD).contains(&b.len()))
            {
                None => self.error(out, AT_PARAM_ERROR),
                Some(_) if self.transmitting => self.error(out, AT_BUSY_ERROR),
                // `service_lora_p2p_send`: busy while receiving, unless 65533.
                Some(_) if !self.config.firmware.lenient && !matches!(self.rx, RxMode::Off | RxMode::ContinuousTx) => {
                    self.error(out, AT_BUSY_ERROR)
                }
                Some(frame) => {
                    Self::line_out(out, OK);
                    self.transmitting = true;
                    let keeps_receiving = if self.config.firmware.lenient {
                        self.rx.continuous()
                    } else {
                        self.rx == RxMode::ContinuousTx
                    };
                    if !keeps_receiving {
                        self.rx = RxMode::Off;
                    }
                    out.transmit = Some((self.settings.params(), frame));
                }
            },
            _ => self.error(out, AT_ERROR),
        }
    }

    /// When [`Rak3172::poll`] wants to be called next (a receive window
    /// closing).
    pub fn next_wakeup(&self) -> Option<u64> {
        match self.rx {
            RxMode::Until(t) => Some(t),
            _ => None,
        }
    }

    /// Closes a timed receive window that is over.
    pub fn poll(&mut self, now: u64, out: &mut Output) {
        if let RxMode::Until(t) = self.rx
            && now >= t
        {
            self.rx = RxMode::Off;
            Self::line_out(out, "+EVT:RXP2P RECEIVE TIMEOUT");
        }
    }

    /// The frame on air has finished.
    pub fn tx_done(&mut self, out: &mut Output) {
        if std::mem::take(&mut self.transmitting) && self.config.firmware.version.reports_tx_done() {
            Self::line_out(out, "+EVT:TXP2P DONE");
        }
    }

    /// A frame the radio received intact.
    pub fn air_rx(&mut self, frame: &[u8], rssi_dbm: i16, snr_db: f32, out: &mut Output) {
        if self.receiving().is_none() || frame.is_empty() {
            return;
        }
        let hex = weft_plugin_api::hex::encode_upper(frame);
        let snr = snr_db.round() as i32;
        match self.config.rx_format {
            RxFormat::New => Self::line_out(out, &format!("+EVT:RXP2P:{rssi_dbm}:{snr}:{hex}")),
            RxFormat::Old => {
                Self::line_out(out, &format!("+EVT:RXP2P, RSSI {rssi_dbm}, SNR {snr}"));
                Self::line_out(out, &format!("+EVT:{hex}"));
            }
        }
        if self.rx == RxMode::One {
            self.rx = RxMode::Off;
        }
    }
}

#[cfg(test)]
mod tests;
