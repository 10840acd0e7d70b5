//! The RNode serial protocol: command bytes, the frames the driver sends and
//! the meaning of the frames it receives (lora-radio.md §1).
//!
//! Owns: every byte value of the protocol, the frame builders (detect burst,
//! configuration, DATA, READY query) and [`Incoming`], the typed reading of a
//! decoded KISS frame. KISS framing itself is `weft_kiss`; no state here.

use crate::config::Config;
use weft_kiss::{Frame, encode_into};

/// Command bytes.
pub mod cmd {
    /// A packet, both directions.
    pub const DATA: u8 = 0x00;
    /// Centre frequency, u32 BE Hz.
    pub const FREQUENCY: u8 = 0x01;
    /// Bandwidth, u32 BE Hz.
    pub const BANDWIDTH: u8 = 0x02;
    /// Transmit power, u8 dBm.
    pub const TXPOWER: u8 = 0x03;
    /// Spreading factor, u8.
    pub const SF: u8 = 0x04;
    /// Coding rate denominator, u8.
    pub const CR: u8 = 0x05;
    /// Radio on/off, u8.
    pub const RADIO_STATE: u8 = 0x06;
    /// Detect handshake.
    pub const DETECT: u8 = 0x08;
    /// Short-term airtime limit, u16 BE percent x 100.
    pub const ST_ALOCK: u8 = 0x0B;
    /// Long-term airtime limit, u16 BE percent x 100.
    pub const LT_ALOCK: u8 = 0x0C;
    /// Flow control: 0x01 ready, 0x00 queue full.
    pub const READY: u8 = 0x0F;
    /// RSSI of the next DATA frame, u8 (+157).
    pub const STAT_RSSI: u8 = 0x23;
    /// SNR of the next DATA frame, i8 (x4).
    pub const STAT_SNR: u8 = 0x24;
    /// Physical-layer parameters, 6 x u16 BE.
    pub const STAT_PHYPRM: u8 = 0x26;
    /// Hardware platform.
    pub const PLATFORM: u8 = 0x48;
    /// Microcontroller.
    pub const MCU: u8 = 0x49;
    /// Firmware version, `major minor`.
    pub const FW_VERSION: u8 = 0x50;
    /// Reset; the device sends `0xF8` when it boots.
    pub const RESET: u8 = 0x55;
    /// Error report, one code byte.
    pub const ERROR: u8 = 0x90;
}

/// The host's detect request byte.
pub const DETECT_REQ: u8 = 0x73;
/// The device's detect answer byte.
pub const DETECT_RESP: u8 = 0x46;
/// RESET payload a device sends when it has just booted.
pub const RESET_BOOTED: u8 = 0xF8;
/// RADIO_STATE payload: on.
pub const RADIO_ON: u8 = 0x01;
/// READY payload: the modem took the frame and has room.
pub const READY_YES: u8 = 0x01;
/// Oldest firmware this driver talks to.
pub const MIN_FIRMWARE: Firmware = Firmware { major: 1, minor: 52 };
/// Largest packet the device takes (it splits over two LoRa frames on air).
pub const MTU: u16 = 508;

/// DETECT, FW_VERSION, PLATFORM and MCU queries in one burst, sharing FENDs.
pub const DETECT_BURST: [u8; 13] = [0xC0, 0x08, 0x73, 0xC0, 0x50, 0x00, 0xC0, 0x48, 0x00, 0xC0, 0x49, 0x00, 0xC0];

/// A firmware version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Firmware {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl core::fmt::Display for Firmware {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:02}", self.major, self.minor)
    }
}

/// Error codes of ERROR frames, with the names used in logs and `status`.
pub const ERROR_NAMES: [(u8, &str); 6] = [
    (0x01, "init_radio"),
    (0x02, "tx_failed"),
    (0x03, "eeprom_locked"),
    (0x04, "queue_full"),
    (0x05, "memory_low"),
    (0x06, "modem_timeout"),
];
/// ERROR code: the radio failed to initialise.
pub const ERROR_INIT_RADIO: u8 = 0x01;
/// ERROR code: a transmission failed.
pub const ERROR_TX_FAILED: u8 = 0x02;
/// ERROR code: the packet queue is full.
pub const ERROR_QUEUE_FULL: u8 = 0x04;

/// The name of an error code (`unknown` for codes this driver does not know).
pub fn error_name(code: u8) -> &'static str {
    ERROR_NAMES.iter().find(|(c, _)| *c == code).map_or("unknown", |(_, name)| name)
}

/// The configuration frames, in the order the firmware expects:
/// FREQUENCY, BANDWIDTH, TXPOWER, SF, CR, (ST_ALOCK), (LT_ALOCK), RADIO_STATE=1.
pub fn configure(config: &Config) -> Vec<u8> {
    let r = &config.radio;
    let mut out = Vec::with_capacity(48);
    encode_into(cmd::FREQUENCY, &r.frequency_hz.to_be_bytes(), &mut out);
    encode_into(cmd::BANDWIDTH, &r.bandwidth_hz.to_be_bytes(), &mut out);
    // Config validation keeps the power at 0 dBm or above.
    encode_into(cmd::TXPOWER, &[r.tx_power_dbm.max(0) as u8], &mut out);
    encode_into(cmd::SF, &[r.spreading_factor], &mut out);
    encode_into(cmd::CR, &[r.coding_rate], &mut out);
    if let Some(limit) = config.st_alock {
        encode_into(cmd::ST_ALOCK, &limit.to_be_bytes(), &mut out);
    }
    if let Some(limit) = config.lt_alock {
        encode_into(cmd::LT_ALOCK, &limit.to_be_bytes(), &mut out);
    }
    encode_into(cmd::RADIO_STATE, &[RADIO_ON], &mut out);
    out
}

/// A DATA frame carrying `packet`.
pub fn data(packet: &[u8]) -> Vec<u8> {
    weft_kiss::encode(cmd::DATA, packet)
}

/// The READY query `C0 0F 00 C0`.
pub fn ready_query() -> Vec<u8> {
    weft_kiss::encode(cmd::READY, &[0x00])
}

/// What a frame from the device means.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A received packet.
    Data(Vec<u8>),
    /// DETECT answer (`true` when the payload is DETECT_RESP).
    Detect(bool),
    /// Firmware version.
    Firmware(Firmware),
    /// Hardware platform byte.
    Platform(u8),
    /// MCU byte.
    Mcu(u8),
    /// Applied frequency, Hz.
    Frequency(u32),
    /// Applied bandwidth, Hz.
    Bandwidth(u32),
    /// Applied transmit power, dBm.
    TxPower(u8),
    /// Applied spreading factor.
    SpreadingFactor(u8),
    /// Applied coding rate.
    CodingRate(u8),
    /// Radio state (0x01 on).
    RadioState(u8),
    /// Applied short-term airtime limit.
    StAlock(u16),
    /// Applied long-term airtime limit.
    LtAlock(u16),
    /// Flow control answer.
    Ready(u8),
    /// RSSI of the next DATA frame, dBm.
    Rssi(i16),
    /// SNR of the next DATA frame, dB.
    Snr(f32),
    /// Preamble length the modem uses, symbols (from STAT_PHYPRM).
    Preamble(u16),
    /// RESET (payload `0xF8` when the device booted).
    Reset(u8),
    /// ERROR with its code.
    Error(u8),
    /// A frame this driver has no use for (statistics and the like).
    Ignored(u8),
    /// A known command with a payload of the wrong length.
    Malformed(u8),
}

/// Reads one decoded frame.
pub fn parse(frame: Frame) -> Incoming {
    use Incoming::*;
    let p = frame.payload.as_slice();
    let byte = |make: fn(u8) -> Incoming| match p {
        [b] => make(*b),
        _ => Malformed(frame.cmd),
    };
    let u16_be = |make: fn(u16) -> Incoming| match p {
        [a, b] => make(u16::from_be_bytes([*a, *b])),
        _ => Malformed(frame.cmd),
    };
    let u32_be = |make: fn(u32) -> Incoming| match p {
        [a, b, c, d] => make(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Malformed(frame.cmd),
    };
    match frame.cmd {
        cmd::DATA => Data(frame.payload),
        cmd::DETECT => byte(|b| Detect(b == DETECT_RESP)),
        cmd::FW_VERSION => match p {
            [major, minor] => Firmware(crate::protocol::Firmware { major: *major, minor: *minor }),
            _ => Malformed(frame.cmd),
        },
        cmd::PLATFORM => byte(Platform),
        cmd::MCU => byte(Mcu),
        cmd::FREQUENCY => u32_be(Frequency),
        cmd::BANDWIDTH => u32_be(Bandwidth),
        cmd::TXPOWER => byte(TxPower),
        cmd::SF => byte(SpreadingFactor),
        cmd::CR => byte(CodingRate),
        cmd::RADIO_STATE => byte(RadioState),
        cmd::ST_ALOCK => u16_be(StAlock),
        cmd::LT_ALOCK => u16_be(LtAlock),
        cmd::READY => byte(Ready),
        cmd::STAT_RSSI => byte(|b| Rssi(i16::from(b) - 157)),
        cmd::STAT_SNR => byte(|b| Snr(f32::from(b as i8) * 0.25)),
        cmd::STAT_PHYPRM => match p {
            // symbol time, symbol rate, preamble symbols, ... (6 x u16 BE)
            [_, _, _, _, a, b, ..] if p.len() == 12 => Preamble(u16::from_be_bytes([*a, *b])),
            _ => Malformed(frame.cmd),
        },
        cmd::RESET => byte(Reset),
        cmd::ERROR => byte(Error),
        other => Ignored(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(cmd: u8, payload: &[u8]) -> Frame {
        Frame { cmd, payload: payload.to_vec() }
    }

    #[test]
    fn configuration_bytes_follow_the_reference_order() {
        let config = Config { st_alock: Some(1000), ..Config::default() };
        let wire = configure(&config);
        let mut decoder = weft_kiss::Decoder::new(600);
        let cmds: Vec<(u8, Vec<u8>)> = decoder.push(&wire).into_iter().map(|f| (f.cmd, f.payload)).collect();
        assert_eq!(
            cmds,
            vec![
                (cmd::FREQUENCY, 868_100_000u32.to_be_bytes().to_vec()),
                (cmd::BANDWIDTH, 125_000u32.to_be_bytes().to_vec()),
                (cmd::TXPOWER, vec![14]),
                (cmd::SF, vec![7]),
                (cmd::CR, vec![5]),
                (cmd::ST_ALOCK, vec![0x03, 0xE8]),
                (cmd::RADIO_STATE, vec![1]),
            ]
        );
        assert_eq!(ready_query(), [0xC0, 0x0F, 0x00, 0xC0]);
    }

    #[test]
    fn incoming_frames_are_read_with_units() {
        assert_eq!(parse(frame(cmd::STAT_RSSI, &[100])), Incoming::Rssi(-57));
        assert_eq!(parse(frame(cmd::STAT_SNR, &[0xF6])), Incoming::Snr(-2.5));
        assert_eq!(parse(frame(cmd::FW_VERSION, &[1, 74])), Incoming::Firmware(Firmware { major: 1, minor: 74 }));
        assert_eq!(parse(frame(cmd::FREQUENCY, &[1, 2, 3])), Incoming::Malformed(cmd::FREQUENCY));
        assert_eq!(parse(frame(0x21, &[0, 0, 0, 1])), Incoming::Ignored(0x21));
        assert_eq!(error_name(ERROR_QUEUE_FULL), "queue_full");
        assert_eq!(MIN_FIRMWARE.to_string(), "1.52");
    }
}
