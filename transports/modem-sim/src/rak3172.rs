//! RAK3172 (RUI3 firmware) AT command emulation in LoRa P2P mode, sans-IO:
//! serial bytes in, serial bytes and radio requests out ([`Output`]), with
//! explicit time in microseconds.
//!
//! Owns: line assembly (`\r\n`, bare `\n` or bare `\r`; lines over 600
//! characters are discarded with `AT_ERROR`), the commands `AT`, `ATZ`,
//! `AT+NWM`, `AT+P2P`, `AT+PRECV` and `AT+PSEND` with their replies (`OK`,
//! `AT_ERROR`, `AT_PARAM_ERROR`, `AT_BUSY_ERROR`), the boot banner, the
//! `+EVT:TXP2P DONE` completion and the two `+EVT:RXP2P` reception formats.
//! Work mode and P2P settings survive a reboot (flash); receive mode does not.
//! Frames go on air as sent: no header byte, no splitting.

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
/// `AT+PRECV` value for continuous reception.
pub const PRECV_CONTINUOUS: u32 = 65_534;
/// `AT+PRECV` value for reception until one frame arrives.
pub const PRECV_ONE: u32 = 65_535;
/// First banner line printed at boot.
pub const BANNER: &str = "RAKwireless RAK3172-E Example";

/// P2P radio settings as `AT+P2P` sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2pSettings {
    /// Centre frequency, Hz.
    pub frequency_hz: u32,
    /// Spreading factor, 5..=12.
    pub spreading_factor: u8,
    /// Bandwidth, kHz: 125, 250 or 500.
    pub bandwidth_khz: u16,
    /// Coding rate index, 0..=3 for 4/5..4/8.
    pub coding_rate: u8,
    /// Preamble length, symbols.
    pub preamble: u16,
    /// TX power, dBm.
    pub tx_power_dbm: i8,
}

impl Default for P2pSettings {
    /// `868100000:7:125:0:8:14`.
    fn default() -> Self {
        P2pSettings {
            frequency_hz: 868_100_000,
            spreading_factor: 7,
            bandwidth_khz: 125,
            coding_rate: 0,
            preamble: 8,
            tx_power_dbm: 14,
        }
    }
}

impl P2pSettings {
    /// The same settings as [`LoraParams`].
    pub fn params(&self) -> LoraParams {
        LoraParams {
            frequency_hz: self.frequency_hz,
            bandwidth_hz: u32::from(self.bandwidth_khz) * 1000,
            spreading_factor: self.spreading_factor,
            coding_rate: self.coding_rate + 5,
            tx_power_dbm: self.tx_power_dbm,
            preamble_symbols: self.preamble,
            crc: true,
            implicit_header: false,
        }
    }

    /// `freq:sf:bw:cr:preamble:power`, as `AT+P2P=?` prints it.
    pub fn to_at(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}",
            self.frequency_hz,
            self.spreading_factor,
            self.bandwidth_khz,
            self.coding_rate,
            self.preamble,
            self.tx_power_dbm
        )
    }

    /// Parses `AT+P2P=` arguments; `None` when malformed or out of range.
    pub fn parse(arg: &str, max_power_dbm: i8) -> Option<P2pSettings> {
        let fields: Vec<&str> = arg.split(':').collect();
        let [freq, sf, bw, cr, preamble, power] = fields[..] else { return None };
        let settings = P2pSettings {
            frequency_hz: number(freq)?,
            spreading_factor: number(sf)?,
            bandwidth_khz: number(bw)?,
            coding_rate: number(cr)?,
            preamble: number(preamble)?,
            tx_power_dbm: number(power)?,
        };
        let ok = (150_000_000..=960_000_000).contains(&settings.frequency_hz)
            && (5..=12).contains(&settings.spreading_factor)
            && [125, 250, 500].contains(&settings.bandwidth_khz)
            && settings.coding_rate <= 3
            && settings.preamble >= 5
            && (MIN_POWER_DBM..=max_power_dbm.min(MAX_POWER_DBM)).contains(&settings.tx_power_dbm);
        ok.then_some(settings)
    }
}

/// Parses a plain decimal number (optional sign for signed types, nothing
/// else around it).
fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || s.starts_with('+') || !s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    s.parse().ok()
}

/// The receiver's mode (`AT+PRECV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxMode {
    /// Not receiving.
    Off,
    /// Receiving until `AT+PRECV=0` (65534).
    Continuous,
    /// Receiving until one frame arrives (65535).
    One,
    /// Receiving until the given time (microseconds), then
    /// `+EVT:RXP2P RECEIVE TIMEOUT`.
    Until(u64),
}

/// Per-device settings of the emulated hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rak3172Config {
    /// How received frames are reported.
    pub rx_format: RxFormat,
    /// The radio's maximum TX power, dBm (`AT+P2P` above it is refused).
    pub max_power_dbm: i8,
}

impl Default for Rak3172Config {
    fn default() -> Self {
        Rak3172Config { rx_format: RxFormat::New, max_power_dbm: MAX_POWER_DBM }
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
            ("AT+NWM", Some("?")) => {
                Self::line_out(out, &format!("AT+NWM={}", u8::from(!self.p2p)));
                Self::line_out(out, OK);
            }
            ("AT+NWM", Some(mode @ ("0" | "1"))) => {
                if self.transmitting {
                    return self.error(out, AT_BUSY_ERROR);
                }
                self.p2p = mode == "0";
                if !self.p2p {
                    self.rx = RxMode::Off;
                }
                Self::line_out(out, OK);
            }
            ("AT+NWM", Some(_)) => self.error(out, AT_PARAM_ERROR),
            ("AT+P2P", Some(_)) | ("AT+PRECV", Some(_)) | ("AT+PSEND", Some(_)) if !self.p2p => {
                self.error(out, AT_ERROR)
            }
            ("AT+P2P", Some("?")) => {
                Self::line_out(out, &format!("AT+P2P={}", self.settings.to_at()));
                Self::line_out(out, OK);
            }
            ("AT+P2P", Some(arg)) => match P2pSettings::parse(arg, self.config.max_power_dbm) {
                None => self.error(out, AT_PARAM_ERROR),
                Some(_) if self.transmitting => self.error(out, AT_BUSY_ERROR),
                Some(settings) => {
                    self.settings = settings;
                    Self::line_out(out, OK);
                }
            },
            ("AT+PRECV", Some("?")) => {
                let value = match self.rx {
                    RxMode::Off | RxMode::Until(_) => 0,
                    RxMode::Continuous => PRECV_CONTINUOUS,
                    RxMode::One => PRECV_ONE,
                };
                Self::line_out(out, &format!("AT+PRECV={value}"));
                Self::line_out(out, OK);
            }
            ("AT+PRECV", Some(arg)) => match number::<u32>(arg).filter(|&v| v <= PRECV_ONE) {
                None => self.error(out, AT_PARAM_ERROR),
                Some(_) if self.transmitting => self.error(out, AT_BUSY_ERROR),
                Some(value) => {
                    self.rx = match value {
                        0 => RxMode::Off,
                        PRECV_CONTINUOUS => RxMode::Continuous,
                        PRECV_ONE => RxMode::One,
                        ms => RxMode::Until(now + u64::from(ms) * 1000),
                    };
                    Self::line_out(out, OK);
                }
            },
            ("AT+PSEND", Some(arg)) => match decode_hex(arg).filter(|b| (1..=MAX_PAYLOAD).contains(&b.len())) {
                None => self.error(out, AT_PARAM_ERROR),
                Some(_) if self.transmitting => self.error(out, AT_BUSY_ERROR),
                Some(frame) => {
                    Self::line_out(out, OK);
                    self.transmitting = true;
                    if self.rx != RxMode::Continuous {
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
        if std::mem::take(&mut self.transmitting) {
            Self::line_out(out, "+EVT:TXP2P DONE");
        }
    }

    /// A frame the radio received intact.
    pub fn air_rx(&mut self, frame: &[u8], rssi_dbm: i16, snr_db: f32, out: &mut Output) {
        if self.receiving().is_none() || frame.is_empty() {
            return;
        }
        let hex = encode_hex(frame);
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

/// Uppercase hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    s
}

/// Even-length hex, either case; `None` if malformed.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let digits = s.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let value = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    digits.chunks(2).map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booted(format: RxFormat) -> Rak3172 {
        let mut r = Rak3172::new(Rak3172Config { rx_format: format, ..Rak3172Config::default() });
        r.boot(&mut Output::default());
        r
    }

    fn send(r: &mut Rak3172, text: &str) -> (String, Output) {
        let mut out = Output::default();
        r.serial_in(text.as_bytes(), 0, &mut out);
        (String::from_utf8(out.serial.clone()).expect("ASCII replies"), out)
    }

    #[test]
    fn boot_banner_and_flash_survives_a_reboot() {
        let mut r = Rak3172::new(Rak3172Config::default());
        let mut out = Output::default();
        r.boot(&mut out);
        assert_eq!(out.serial, b"RAKwireless RAK3172-E Example\r\nCurrent Work Mode: LoRa P2P.\r\n");
        send(&mut r, "AT+P2P=869525000:9:250:1:12:20\r\n");
        send(&mut r, "AT+PRECV=65534\r\n");
        assert_eq!(r.rx_mode(), RxMode::Continuous);
        let (text, out) = send(&mut r, "ATZ\r\n");
        assert!(out.rebooted);
        assert_eq!(text, "RAKwireless RAK3172-E Example\r\nCurrent Work Mode: LoRa P2P.\r\n");
        assert_eq!(r.rx_mode(), RxMode::Off, "receive mode is off after boot");
        assert_eq!(send(&mut r, "AT+P2P=?\r\n").0, "AT+P2P=869525000:9:250:1:12:20\r\nOK\r\n");
        send(&mut r, "AT+NWM=1\r\n");
        let mut out = Output::default();
        r.boot(&mut out);
        assert!(String::from_utf8_lossy(&out.serial).ends_with("Current Work Mode: LoRaWAN.\r\n"));
    }

    #[test]
    fn each_command_and_its_replies() {
        let mut r = booted(RxFormat::New);
        let cases = [
            ("AT\r\n", "OK\r\n"),
            ("at\r\n", "OK\r\n"),
            ("AT\n", "OK\r\n"),
            ("AT\r", "OK\r\n"),
            ("\r\n\r\n", ""),
            ("AT+NWM=?\r\n", "AT+NWM=0\r\nOK\r\n"),
            ("AT+NWM=0\r\n", "OK\r\n"),
            ("AT+NWM=2\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=?\r\n", "AT+P2P=868100000:7:125:0:8:14\r\nOK\r\n"),
            ("AT+P2P=868300000:12:500:3:65535:22\r\n", "OK\r\n"),
            ("AT+P2P=?\r\n", "AT+P2P=868300000:12:500:3:65535:22\r\nOK\r\n"),
            ("AT+P2P=868100000:7:125:0:8:14\r\n", "OK\r\n"),
            ("AT+P2P=868100000:13:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:4:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:100:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:125:4:8:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:125:0:4:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:125:0:65536:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:125:0:8:23\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:125:0:8:4\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:125:0:8\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=868100000:7:125:0:8:14:1\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=8681OOOOO:7:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=2400000000:7:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+P2P=\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+PRECV=65534\r\n", "OK\r\n"),
            ("AT+PRECV=?\r\n", "AT+PRECV=65534\r\nOK\r\n"),
            ("AT+PRECV=0\r\n", "OK\r\n"),
            ("AT+PRECV=65536\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+PRECV=-1\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+PRECV=abc\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+PSEND=\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+PSEND=ABC\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+PSEND=GG\r\n", "AT_PARAM_ERROR\r\n"),
            ("AT+FOO=1\r\n", "AT_ERROR\r\n"),
            ("AT+P2P\r\n", "AT_ERROR\r\n"),
            ("hello\r\n", "AT_ERROR\r\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(send(&mut r, input).0, expected, "{input:?}");
        }
        let too_long = format!("AT+PSEND={}\r\n", "00".repeat(256));
        assert_eq!(send(&mut r, &too_long).0, "AT_PARAM_ERROR\r\n");
        assert_eq!(r.serial_errors(), 24);

        // LoRaWAN mode: P2P commands refused.
        assert_eq!(send(&mut r, "AT+NWM=1\r\n").0, "OK\r\n");
        assert_eq!(send(&mut r, "AT+NWM=?\r\n").0, "AT+NWM=1\r\nOK\r\n");
        for command in ["AT+P2P=?", "AT+P2P=868100000:7:125:0:8:14", "AT+PRECV=65534", "AT+PSEND=00"] {
            assert_eq!(send(&mut r, &format!("{command}\r\n")).0, "AT_ERROR\r\n", "{command}");
        }
        assert_eq!(r.receiving(), None);
        assert_eq!(send(&mut r, "AT+NWM=0\r\n").0, "OK\r\n");
        assert_eq!(send(&mut r, "AT+PSEND=00\r\n").0, "OK\r\n");
    }

    #[test]
    fn psend_transmits_as_is_and_is_busy_until_done() {
        let mut r = booted(RxFormat::New);
        send(&mut r, "AT+PRECV=65534\r\n");
        let (text, out) = send(&mut r, "AT+PSEND=00c0ffEE\r\n");
        assert_eq!(text, "OK\r\n");
        let (params, frame) = out.transmit.expect("on air");
        assert_eq!(frame, [0x00, 0xC0, 0xFF, 0xEE]);
        assert_eq!(params, LoraParams::default());
        assert!(r.transmitting());
        assert_eq!(send(&mut r, "AT+PSEND=01\r\n").0, "AT_BUSY_ERROR\r\n");
        assert_eq!(send(&mut r, "AT+P2P=868100000:7:125:0:8:14\r\n").0, "AT_BUSY_ERROR\r\n");
        assert_eq!(send(&mut r, "AT+PRECV=0\r\n").0, "AT_BUSY_ERROR\r\n");
        assert_eq!(send(&mut r, "AT\r\n").0, "OK\r\n");
        let mut out = Output::default();
        r.tx_done(&mut out);
        assert_eq!(out.serial, b"+EVT:TXP2P DONE\r\n");
        assert_eq!(r.rx_mode(), RxMode::Continuous, "back to receiving");
        assert!(r.receiving().is_some());
        let max = format!("AT+PSEND={}\r\n", "AB".repeat(255));
        let (text, out) = send(&mut r, &max);
        assert_eq!(text, "OK\r\n");
        assert_eq!(out.transmit.map(|(_, f)| f.len()), Some(255));
    }

    #[test]
    fn received_frames_in_both_formats_only_while_receiving() {
        let mut r = booted(RxFormat::New);
        let mut out = Output::default();
        r.air_rx(&[1, 2], -60, 9.5, &mut out);
        assert!(out.serial.is_empty(), "not receiving yet");
        send(&mut r, "AT+PRECV=65534\r\n");
        r.air_rx(&[0x00, 0xAB, 0x0F], -37, 11.0, &mut out);
        r.air_rx(&[0xFF], -120, -7.25, &mut out);
        assert_eq!(String::from_utf8_lossy(&out.serial), "+EVT:RXP2P:-37:11:00AB0F\r\n+EVT:RXP2P:-120:-7:FF\r\n");

        let mut r = booted(RxFormat::Old);
        send(&mut r, "AT+PRECV=65535\r\n");
        let mut out = Output::default();
        r.air_rx(&[0xDE, 0xAD], -37, 11.0, &mut out);
        r.air_rx(&[0xBE, 0xEF], -37, 11.0, &mut out);
        assert_eq!(String::from_utf8_lossy(&out.serial), "+EVT:RXP2P, RSSI -37, SNR 11\r\n+EVT:DEAD\r\n");
        assert_eq!(r.rx_mode(), RxMode::Off, "65535 receives one frame");
    }

    #[test]
    fn a_timed_receive_window_closes() {
        let mut r = booted(RxFormat::New);
        let mut out = Output::default();
        r.serial_in(b"AT+PRECV=3000\r\n", 1_000, &mut out);
        assert_eq!(r.next_wakeup(), Some(3_001_000));
        assert!(r.receiving().is_some());
        r.poll(3_000_999, &mut out);
        assert!(r.receiving().is_some());
        let mut out = Output::default();
        r.poll(3_001_000, &mut out);
        assert_eq!(out.serial, b"+EVT:RXP2P RECEIVE TIMEOUT\r\n");
        assert_eq!(r.receiving(), None);
        assert_eq!(r.next_wakeup(), None);
    }

    #[test]
    fn overlong_and_garbage_lines_are_refused_and_the_next_line_works() {
        let mut r = booted(RxFormat::New);
        let long = format!("AT+PSEND={}\r\n", "0".repeat(MAX_LINE));
        assert_eq!(send(&mut r, &long).0, "AT_ERROR\r\n");
        assert_eq!(send(&mut r, "AT\r\n").0, "OK\r\n");
        // Exactly 600 characters is still a line (and a valid-length PSEND is not).
        let exact = format!("AT+PSEND={}", "0".repeat(MAX_LINE - 9));
        assert_eq!(exact.len(), MAX_LINE);
        assert_eq!(send(&mut r, &format!("{exact}\r\n")).0, "AT_PARAM_ERROR\r\n");
        assert_eq!(send(&mut r, "\u{0}\u{7f}AT\r\n").0, "AT_ERROR\r\n");
        let (text, _) = send(&mut r, "\u{ff}");
        assert!(text.is_empty());
        let mut out = Output::default();
        r.serial_in(&[0xFF, 0xFE, b'\n'], 0, &mut out);
        assert_eq!(out.serial, b"AT_ERROR\r\n", "not UTF-8");
        let mut seed = weft_plugin_api::rng::SplitMix64::new(5);
        for _ in 0..300 {
            let bytes: Vec<u8> = (0..seed.below(900))
                .map(|_| match seed.below(8) {
                    0 => b'\r',
                    1 => b'\n',
                    2 => b'=',
                    3 => b':',
                    _ => seed.next_u64() as u8,
                })
                .collect();
            let mut out = Output::default();
            r.serial_in(&bytes, 0, &mut out);
            r.tx_done(&mut out);
            r.air_rx(&bytes, -1, 0.0, &mut out);
        }
        assert!(send(&mut r, "\r\nAT\r\n").0.ends_with("OK\r\n"));
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_hex(&encode_hex(&bytes)), Some(bytes));
        assert_eq!(decode_hex("aBcD"), Some(vec![0xAB, 0xCD]));
        assert_eq!(decode_hex("+1"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
