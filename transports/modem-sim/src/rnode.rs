//! RNode firmware emulation, sans-IO: serial bytes in, serial bytes and radio
//! requests out ([`Output`]), with explicit time in microseconds.
//!
//! Owns: the KISS command set of lora-radio.md §1 (detect, version,
//! platform, settings echoed with the value applied, radio state, READY,
//! statistics), the modem's TX queue with CSMA, the on-air header byte
//! (`random sequence << 4 | split flag`) and splitting of packets over 254
//! bytes into two frames, and reassembly of split frames on reception.
//!
//! The caller (see [`crate::sim`]) feeds serial bytes with
//! [`RNode::serial_in`], tells it when the line went quiet
//! ([`RNode::serial_idle`]), calls [`RNode::poll`] after every input and at
//! [`RNode::next_wakeup`] (that is where queued packets go on air), and
//! reports the end of each transmission ([`RNode::tx_done`]) and every frame
//! the medium delivers ([`RNode::air_rx`]).

use std::collections::VecDeque;

use weft_kiss::Decoder;
use weft_plugin_api::radio::{BANDWIDTHS_HZ, LoraParams};

use crate::Output;
use weft_plugin_api::internal::rng::SplitMix64;

/// KISS command bytes (lora-radio.md §1). Written out here again on
/// purpose, not shared with the driver: the emulator follows the reference
/// on its own, so a wrong byte in the driver fails against it instead of
/// being copied into it.
pub mod cmd {
    /// Packet data, both directions.
    pub const DATA: u8 = 0x00;
    /// Frequency, u32 BE Hz (0 queries).
    pub const FREQUENCY: u8 = 0x01;
    /// Bandwidth, u32 BE Hz (0 queries).
    pub const BANDWIDTH: u8 = 0x02;
    /// TX power, dBm (0xFF queries).
    pub const TXPOWER: u8 = 0x03;
    /// Spreading factor (0xFF queries).
    pub const SF: u8 = 0x04;
    /// Coding rate denominator (0xFF queries).
    pub const CR: u8 = 0x05;
    /// Radio on/off (0xFF queries).
    pub const RADIO_STATE: u8 = 0x06;
    /// Detect handshake.
    pub const DETECT: u8 = 0x08;
    /// Host detaching.
    pub const LEAVE: u8 = 0x0A;
    /// Short-term airtime lock, u16 BE.
    pub const ST_ALOCK: u8 = 0x0B;
    /// Long-term airtime lock, u16 BE.
    pub const LT_ALOCK: u8 = 0x0C;
    /// Flow control query.
    pub const READY: u8 = 0x0F;
    /// Received packets counter.
    pub const STAT_RX: u8 = 0x21;
    /// Transmitted packets counter.
    pub const STAT_TX: u8 = 0x22;
    /// RSSI of the next delivered packet, dBm + 157.
    pub const STAT_RSSI: u8 = 0x23;
    /// SNR of the next delivered packet, dB x 4 (i8).
    pub const STAT_SNR: u8 = 0x24;
    /// Platform query.
    pub const PLATFORM: u8 = 0x48;
    /// MCU query.
    pub const MCU: u8 = 0x49;
    /// Firmware version query.
    pub const FW_VERSION: u8 = 0x50;
    /// Reset (0xF8); also sent by the device when it boots.
    pub const RESET: u8 = 0x55;
    /// Error report.
    pub const ERROR: u8 = 0x90;
}

/// Error codes carried by [`cmd::ERROR`].
pub mod error {
    /// The radio could not be initialised (settings missing or invalid).
    pub const INIT_RADIO: u8 = 0x01;
    /// A packet could not be transmitted (radio off, too big).
    pub const TX_FAILED: u8 = 0x02;
    /// The TX queue is full.
    pub const QUEUE_FULL: u8 = 0x04;
}

/// The detect request and response payloads.
pub const DETECT_REQ: u8 = 0x73;
/// See [`DETECT_REQ`].
pub const DETECT_RESP: u8 = 0x46;
/// Firmware version reported: 1.74.
pub const FW_VERSION: [u8; 2] = [0x01, 0x4A];
/// Platform reported: ESP32.
pub const PLATFORM_ESP32: u8 = 0x80;
/// MCU reported.
pub const MCU_ESP32: u8 = 0x81;
/// The largest packet the host may send, bytes.
pub const MTU: usize = 508;
/// The largest packet part one on-air frame carries after the header byte.
pub const CHUNK: usize = 254;
/// Split flag in the on-air header byte.
pub const FLAG_SPLIT: u8 = 0x01;
/// Default maximum TX power, dBm.
pub const DEFAULT_MAX_POWER_DBM: i8 = 17;
/// Default TX queue capacity, packets.
pub const DEFAULT_TX_QUEUE: usize = 4;
/// Preamble the firmware uses, symbols.
pub const PREAMBLE_SYMBOLS: u16 = 8;
/// Frames with a longer payload are dropped by the serial decoder.
const DECODER_LIMIT: usize = 1024;
/// The boot announcement.
pub const BOOT_FRAME: [u8; 4] = [0xC0, cmd::RESET, 0xF8, 0xC0];

/// Per-device settings of the emulated hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RNodeConfig {
    /// The radio's maximum TX power, dBm (requests above are clamped).
    pub max_power_dbm: i8,
    /// TX queue capacity, packets (including the one on air).
    pub tx_queue: usize,
}

impl Default for RNodeConfig {
    fn default() -> Self {
        RNodeConfig { max_power_dbm: DEFAULT_MAX_POWER_DBM, tx_queue: DEFAULT_TX_QUEUE }
    }
}

/// The packet on air: the second half still to send, if split.
#[derive(Debug, Clone)]
struct OnAir {
    second: Option<Vec<u8>>,
}

/// One emulated RNode.
#[derive(Debug, Clone)]
pub struct RNode {
    config: RNodeConfig,
    rng: SplitMix64,
    decoder: Decoder,
    decoder_errors_seen: u64,
    frequency_hz: u32,
    bandwidth_hz: u32,
    tx_power_dbm: Option<u8>,
    spreading_factor: u8,
    coding_rate: u8,
    radio_on: bool,
    st_alock: u16,
    lt_alock: u16,
    queue: VecDeque<Vec<u8>>,
    on_air: Option<OnAir>,
    backoff_until: Option<u64>,
    held: Option<(u8, Vec<u8>)>,
    stat_rx: u32,
    stat_tx: u32,
    serial_errors: u64,
}

impl RNode {
    /// A device that has not booted yet (call [`RNode::boot`]); `seed`
    /// drives its sequence numbers and CSMA slots.
    pub fn new(config: RNodeConfig, seed: u64) -> RNode {
        RNode {
            config,
            rng: SplitMix64::new(seed),
            decoder: Decoder::new(DECODER_LIMIT),
            decoder_errors_seen: 0,
            frequency_hz: 0,
            bandwidth_hz: 0,
            tx_power_dbm: None,
            spreading_factor: 0,
            coding_rate: 0,
            radio_on: false,
            st_alock: 0,
            lt_alock: 0,
            queue: VecDeque::new(),
            on_air: None,
            backoff_until: None,
            held: None,
            stat_rx: 0,
            stat_tx: 0,
            serial_errors: 0,
        }
    }

    /// Power-on or reset: everything back to unset, radio off, queue
    /// cleared; announces itself with `C0 55 F8 C0`.
    pub fn boot(&mut self, out: &mut Output) {
        let errors = self.serial_errors;
        *self = RNode { rng: self.rng.clone(), ..RNode::new(self.config, 0) };
        self.serial_errors = errors;
        out.serial.extend_from_slice(&BOOT_FRAME);
        out.rebooted = true;
    }

    /// The radio settings, once all are set.
    pub fn params(&self) -> Option<LoraParams> {
        if self.frequency_hz == 0 || self.bandwidth_hz == 0 || self.spreading_factor == 0 || self.coding_rate == 0 {
            return None;
        }
        Some(LoraParams {
            frequency_hz: self.frequency_hz,
            bandwidth_hz: self.bandwidth_hz,
            spreading_factor: self.spreading_factor,
            coding_rate: self.coding_rate,
            tx_power_dbm: i8::try_from(self.tx_power_dbm?).unwrap_or(i8::MAX),
            preamble_symbols: PREAMBLE_SYMBOLS,
            crc: true,
            implicit_header: false,
        })
    }

    /// What the receiver listens on (`None` while the radio is off).
    pub fn receiving(&self) -> Option<LoraParams> {
        if self.radio_on { self.params() } else { None }
    }

    /// Whether the radio is on.
    pub fn radio_on(&self) -> bool {
        self.radio_on
    }

    /// Packets waiting or on air.
    pub fn queued(&self) -> usize {
        self.queue.len() + usize::from(self.on_air.is_some())
    }

    /// Malformed input seen so far (dropped KISS frames, bad payloads,
    /// unknown commands), across reboots.
    pub fn serial_errors(&self) -> u64 {
        self.serial_errors
    }

    /// Serial bytes from the host.
    pub fn serial_in(&mut self, bytes: &[u8], out: &mut Output) {
        let frames = self.decoder.push(bytes);
        self.count_decoder_errors();
        for frame in frames {
            self.command(frame.cmd, &frame.payload, out);
        }
    }

    /// The serial line has been quiet for ~100 ms: a half frame is dropped.
    pub fn serial_idle(&mut self) {
        self.decoder.line_idle();
        self.count_decoder_errors();
    }

    /// Whether part of a frame has been received from the host.
    pub fn partial_input(&self) -> bool {
        self.decoder.in_frame()
    }

    fn count_decoder_errors(&mut self) {
        let c = self.decoder.counters;
        let total = c.oversize + c.bad_escape + c.abandoned + c.noise_bytes;
        self.serial_errors += total.saturating_sub(self.decoder_errors_seen);
        self.decoder_errors_seen = total;
    }

    fn reply(out: &mut Output, command: u8, payload: &[u8]) {
        weft_kiss::encode_into(command, payload, &mut out.serial);
    }

    fn command(&mut self, command: u8, payload: &[u8], out: &mut Output) {
        match command {
            cmd::DATA => self.data(payload, out),
            cmd::DETECT => {
                if payload == [DETECT_REQ] {
                    Self::reply(out, cmd::DETECT, &[DETECT_RESP]);
                } else {
                    self.serial_errors += 1;
                }
            }
            cmd::FW_VERSION => Self::reply(out, cmd::FW_VERSION, &FW_VERSION),
            cmd::PLATFORM => Self::reply(out, cmd::PLATFORM, &[PLATFORM_ESP32]),
            cmd::MCU => Self::reply(out, cmd::MCU, &[MCU_ESP32]),
            cmd::FREQUENCY => {
                let Some(value) = u32_be(payload) else {
                    self.serial_errors += 1;
                    return;
                };
                if value != 0 {
                    self.frequency_hz = value;
                }
                Self::reply(out, cmd::FREQUENCY, &self.frequency_hz.to_be_bytes());
            }
            cmd::BANDWIDTH => {
                let Some(value) = u32_be(payload) else {
                    self.serial_errors += 1;
                    return;
                };
                if value != 0 {
                    self.bandwidth_hz = nearest_bandwidth(value);
                }
                Self::reply(out, cmd::BANDWIDTH, &self.bandwidth_hz.to_be_bytes());
            }
            cmd::TXPOWER => {
                let Some(value) = single(payload) else {
                    self.serial_errors += 1;
                    return;
                };
                if value != 0xFF {
                    let max = u8::try_from(self.config.max_power_dbm).unwrap_or(0);
                    self.tx_power_dbm = Some(value.min(max));
                }
                Self::reply(out, cmd::TXPOWER, &[self.tx_power_dbm.unwrap_or(0)]);
            }
            cmd::SF => {
                let Some(value) = single(payload) else {
                    self.serial_errors += 1;
                    return;
                };
                if value != 0xFF {
                    self.spreading_factor = value.clamp(5, 12);
                }
                Self::reply(out, cmd::SF, &[self.spreading_factor]);
            }
            cmd::CR => {
                let Some(value) = single(payload) else {
                    self.serial_errors += 1;
                    return;
                };
                if value != 0xFF {
                    self.coding_rate = value.clamp(5, 8);
                }
                Self::reply(out, cmd::CR, &[self.coding_rate]);
            }
            cmd::RADIO_STATE => match single(payload) {
                Some(0x00) => {
                    self.radio_off();
                    Self::reply(out, cmd::RADIO_STATE, &[0]);
                }
                Some(0x01) => {
                    if self.params().is_some_and(|p| p.validate().is_ok()) {
                        self.radio_on = true;
                        self.backoff_until = None;
                        Self::reply(out, cmd::RADIO_STATE, &[1]);
                    } else {
                        self.radio_off();
                        Self::reply(out, cmd::ERROR, &[error::INIT_RADIO]);
                        Self::reply(out, cmd::RADIO_STATE, &[0]);
                    }
                }
                Some(0xFF) => Self::reply(out, cmd::RADIO_STATE, &[u8::from(self.radio_on)]),
                _ => self.serial_errors += 1,
            },
            cmd::ST_ALOCK | cmd::LT_ALOCK => {
                let Ok(bytes) = <[u8; 2]>::try_from(payload) else {
                    self.serial_errors += 1;
                    return;
                };
                let value = u16::from_be_bytes(bytes);
                if command == cmd::ST_ALOCK {
                    self.st_alock = value;
                } else {
                    self.lt_alock = value;
                }
                Self::reply(out, command, &value.to_be_bytes());
            }
            cmd::READY => {
                let ready = self.queued() < self.config.tx_queue;
                Self::reply(out, cmd::READY, &[u8::from(ready)]);
            }
            cmd::STAT_RX => Self::reply(out, cmd::STAT_RX, &self.stat_rx.to_be_bytes()),
            cmd::STAT_TX => Self::reply(out, cmd::STAT_TX, &self.stat_tx.to_be_bytes()),
            cmd::RESET => {
                if payload == [0xF8] {
                    self.boot(out);
                } else {
                    self.serial_errors += 1;
                }
            }
            cmd::LEAVE => {}
            _ => self.serial_errors += 1,
        }
    }

    fn radio_off(&mut self) {
        self.radio_on = false;
        self.queue.clear();
        self.backoff_until = None;
        self.held = None;
        if let Some(on_air) = &mut self.on_air {
            on_air.second = None;
        }
    }

    fn data(&mut self, packet: &[u8], out: &mut Output) {
        if packet.is_empty() {
            self.serial_errors += 1;
        } else if packet.len() > MTU || !self.radio_on {
            Self::reply(out, cmd::ERROR, &[error::TX_FAILED]);
        } else if self.queued() >= self.config.tx_queue {
            Self::reply(out, cmd::ERROR, &[error::QUEUE_FULL]);
        } else {
            self.queue.push_back(packet.to_vec());
        }
    }

    /// CSMA slot, microseconds of radio time: four symbols.
    fn slot_us(&self) -> u64 {
        self.params().map_or(1_000, |p| (p.symbol_us() * 4.0).ceil() as u64).max(1)
    }

    /// When [`RNode::poll`] wants to be called next (a CSMA backoff ending).
    pub fn next_wakeup(&self) -> Option<u64> {
        if self.radio_on && self.on_air.is_none() && !self.queue.is_empty() { self.backoff_until } else { None }
    }

    /// Starts the next queued packet on air if the radio is idle and the
    /// channel is free. `busy_until`: the end of the latest frame this
    /// device is hearing, if any (CSMA: wait for it, then a random 1..=4
    /// slots, then look again).
    pub fn poll(&mut self, now: u64, busy_until: Option<u64>, out: &mut Output) {
        if !self.radio_on || self.on_air.is_some() || self.queue.is_empty() {
            self.backoff_until = None;
            return;
        }
        if self.backoff_until.is_some_and(|t| now < t) {
            return;
        }
        if let Some(busy) = busy_until.filter(|&b| b > now) {
            let slots = 1 + self.rng.below(4);
            self.backoff_until = Some(busy + slots * self.slot_us());
            return;
        }
        self.backoff_until = None;
        let (Some(params), Some(packet)) = (self.params(), self.queue.pop_front()) else { return };
        let mut header = (self.rng.below(16) as u8) << 4;
        let (first, second) = if packet.len() <= CHUNK {
            (on_air_frame(header, &packet), None)
        } else {
            header |= FLAG_SPLIT;
            (on_air_frame(header, &packet[..CHUNK]), Some(on_air_frame(header, &packet[CHUNK..])))
        };
        self.on_air = Some(OnAir { second });
        out.transmit = Some((params, first));
    }

    /// The frame on air has finished: the second half of a split packet
    /// follows at once.
    pub fn tx_done(&mut self, out: &mut Output) {
        match self.on_air.take() {
            Some(OnAir { second: Some(frame) }) => match self.params() {
                Some(params) if self.radio_on => {
                    self.on_air = Some(OnAir { second: None });
                    out.transmit = Some((params, frame));
                }
                _ => {}
            },
            Some(OnAir { second: None }) => self.stat_tx = self.stat_tx.wrapping_add(1),
            None => {}
        }
    }

    /// A frame the radio received intact: strip the header byte, reassemble
    /// split packets, deliver to the host with RSSI and SNR.
    pub fn air_rx(&mut self, frame: &[u8], rssi_dbm: i16, snr_db: f32, out: &mut Output) {
        if !self.radio_on {
            return;
        }
        let Some((&header, body)) = frame.split_first() else { return };
        if header & FLAG_SPLIT == 0 {
            self.held = None;
            self.deliver(body, rssi_dbm, snr_db, out);
            return;
        }
        match self.held.take() {
            Some((held_header, mut first)) if held_header == header => {
                first.extend_from_slice(body);
                self.deliver(&first, rssi_dbm, snr_db, out);
            }
            _ => self.held = Some((header, body.to_vec())),
        }
    }

    fn deliver(&mut self, packet: &[u8], rssi_dbm: i16, snr_db: f32, out: &mut Output) {
        if packet.is_empty() {
            return;
        }
        let rssi = (i32::from(rssi_dbm) + 157).clamp(0, 255) as u8;
        let snr = (snr_db * 4.0).round().clamp(-128.0, 127.0) as i8;
        Self::reply(out, cmd::STAT_RSSI, &[rssi]);
        Self::reply(out, cmd::STAT_SNR, &[snr as u8]);
        Self::reply(out, cmd::DATA, packet);
        self.stat_rx = self.stat_rx.wrapping_add(1);
    }
}

fn on_air_frame(header: u8, chunk: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(chunk.len() + 1);
    frame.push(header);
    frame.extend_from_slice(chunk);
    frame
}

fn u32_be(payload: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(payload).ok().map(u32::from_be_bytes)
}

fn single(payload: &[u8]) -> Option<u8> {
    match payload {
        [b] => Some(*b),
        _ => None,
    }
}

/// The supported LoRa bandwidth nearest to `hz`.
pub fn nearest_bandwidth(hz: u32) -> u32 {
    BANDWIDTHS_HZ.iter().copied().min_by_key(|b| b.abs_diff(hz)).unwrap_or(125_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_kiss::{Frame, encode};

    fn booted() -> RNode {
        let mut r = RNode::new(RNodeConfig::default(), 3);
        r.boot(&mut Output::default());
        r
    }

    /// Feeds `wire`, returns the decoded reply frames.
    fn send(r: &mut RNode, wire: &[u8]) -> (Vec<Frame>, Output) {
        let mut out = Output::default();
        r.serial_in(wire, &mut out);
        (Decoder::new(2048).push(&out.serial), out)
    }

    fn f(cmd: u8, payload: &[u8]) -> Frame {
        Frame { cmd, payload: payload.to_vec() }
    }

    fn configure(r: &mut RNode) -> Vec<Frame> {
        let mut wire = Vec::new();
        wire.extend(encode(cmd::FREQUENCY, &868_100_000u32.to_be_bytes()));
        wire.extend(encode(cmd::BANDWIDTH, &125_000u32.to_be_bytes()));
        wire.extend(encode(cmd::TXPOWER, &[14]));
        wire.extend(encode(cmd::SF, &[7]));
        wire.extend(encode(cmd::CR, &[5]));
        wire.extend(encode(cmd::RADIO_STATE, &[1]));
        send(r, &wire).0
    }

    #[test]
    fn boot_announces_and_the_detect_burst_is_answered_in_order() {
        let mut r = RNode::new(RNodeConfig::default(), 1);
        let mut out = Output::default();
        r.boot(&mut out);
        assert_eq!(out.serial, [0xC0, 0x55, 0xF8, 0xC0]);
        let burst = [0xC0, 0x08, 0x73, 0xC0, 0x50, 0x00, 0xC0, 0x48, 0x00, 0xC0, 0x49, 0x00, 0xC0];
        let (_, out) = send(&mut r, &burst);
        assert_eq!(
            out.serial,
            [0xC0, 0x08, 0x46, 0xC0, 0xC0, 0x50, 0x01, 0x4A, 0xC0, 0xC0, 0x48, 0x80, 0xC0, 0xC0, 0x49, 0x81, 0xC0]
        );
    }

    #[test]
    fn settings_are_echoed_with_the_value_applied() {
        let mut r = booted();
        let mut wire = Vec::new();
        wire.extend(encode(cmd::FREQUENCY, &0u32.to_be_bytes()));
        wire.extend(encode(cmd::TXPOWER, &[30]));
        wire.extend(encode(cmd::SF, &[13]));
        wire.extend(encode(cmd::SF, &[2]));
        wire.extend(encode(cmd::CR, &[9]));
        wire.extend(encode(cmd::CR, &[0xFF]));
        wire.extend(encode(cmd::BANDWIDTH, &130_000u32.to_be_bytes()));
        wire.extend(encode(cmd::FREQUENCY, &869_525_000u32.to_be_bytes()));
        wire.extend(encode(cmd::ST_ALOCK, &[0x01, 0xF4]));
        wire.extend(encode(cmd::LT_ALOCK, &[0x00, 0x64]));
        wire.extend(encode(cmd::RADIO_STATE, &[0xFF]));
        let (frames, _) = send(&mut r, &wire);
        assert_eq!(
            frames,
            vec![
                f(cmd::FREQUENCY, &[0, 0, 0, 0]),
                f(cmd::TXPOWER, &[17]),
                f(cmd::SF, &[12]),
                f(cmd::SF, &[5]),
                f(cmd::CR, &[8]),
                f(cmd::CR, &[8]),
                f(cmd::BANDWIDTH, &125_000u32.to_be_bytes()),
                f(cmd::FREQUENCY, &869_525_000u32.to_be_bytes()),
                f(cmd::ST_ALOCK, &[0x01, 0xF4]),
                f(cmd::LT_ALOCK, &[0x00, 0x64]),
                f(cmd::RADIO_STATE, &[0]),
            ]
        );
        let mut custom = RNode::new(RNodeConfig { max_power_dbm: 22, tx_queue: 4 }, 1);
        let (frames, _) = send(&mut custom, &encode(cmd::TXPOWER, &[30]));
        assert_eq!(frames, vec![f(cmd::TXPOWER, &[22])]);
    }

    #[test]
    fn the_radio_turns_on_only_when_configured() {
        let mut r = booted();
        let (frames, _) = send(&mut r, &encode(cmd::RADIO_STATE, &[1]));
        assert_eq!(frames, vec![f(cmd::ERROR, &[error::INIT_RADIO]), f(cmd::RADIO_STATE, &[0])]);
        assert!(!r.radio_on());
        assert_eq!(r.receiving(), None);
        // Everything but the coding rate: still refused.
        let mut wire = Vec::new();
        wire.extend(encode(cmd::FREQUENCY, &868_100_000u32.to_be_bytes()));
        wire.extend(encode(cmd::BANDWIDTH, &125_000u32.to_be_bytes()));
        wire.extend(encode(cmd::TXPOWER, &[14]));
        wire.extend(encode(cmd::SF, &[7]));
        wire.extend(encode(cmd::RADIO_STATE, &[1]));
        let (frames, _) = send(&mut r, &wire);
        assert_eq!(frames[4..], [f(cmd::ERROR, &[error::INIT_RADIO]), f(cmd::RADIO_STATE, &[0])]);
        // An out-of-band frequency is refused too.
        let mut bad = booted();
        configure(&mut bad);
        let (frames, _) = send(&mut bad, &encode(cmd::FREQUENCY, &2_400_000_000u32.to_be_bytes()));
        assert_eq!(frames, vec![f(cmd::FREQUENCY, &2_400_000_000u32.to_be_bytes())]);
        let (frames, _) = send(&mut bad, &encode(cmd::RADIO_STATE, &[1]));
        assert_eq!(frames[0], f(cmd::ERROR, &[error::INIT_RADIO]));

        let mut r = booted();
        let frames = configure(&mut r);
        assert_eq!(frames.last(), Some(&f(cmd::RADIO_STATE, &[1])));
        assert!(r.radio_on());
        assert_eq!(r.receiving(), Some(LoraParams::default()));
        let (frames, _) = send(&mut r, &encode(cmd::RADIO_STATE, &[0xFF]));
        assert_eq!(frames, vec![f(cmd::RADIO_STATE, &[1])]);
    }

    #[test]
    fn data_with_the_radio_off_or_too_big_fails() {
        let mut r = booted();
        let (frames, _) = send(&mut r, &encode(cmd::DATA, b"hi"));
        assert_eq!(frames, vec![f(cmd::ERROR, &[error::TX_FAILED])]);
        configure(&mut r);
        let (frames, _) = send(&mut r, &encode(cmd::DATA, &[0xC0; MTU + 1]));
        assert_eq!(frames, vec![f(cmd::ERROR, &[error::TX_FAILED])]);
        let (frames, _) = send(&mut r, &encode(cmd::DATA, &[0xC0; MTU]));
        assert!(frames.is_empty(), "508 bytes are accepted silently");
    }

    #[test]
    fn a_full_queue_answers_queue_full_and_ready_zero() {
        let mut r = booted();
        configure(&mut r);
        let (frames, _) = send(&mut r, &encode(cmd::READY, &[0]));
        assert_eq!(frames, vec![f(cmd::READY, &[1])]);
        for i in 0..4u8 {
            let (frames, _) = send(&mut r, &encode(cmd::DATA, &[i; 10]));
            assert!(frames.is_empty());
        }
        let (frames, _) = send(&mut r, &encode(cmd::DATA, b"fifth"));
        assert_eq!(frames, vec![f(cmd::ERROR, &[error::QUEUE_FULL])]);
        let (frames, _) = send(&mut r, &[0xC0, 0x0F, 0xC0, 0xC0, 0x0F, 0x42, 0x43, 0xC0]);
        assert_eq!(frames, vec![f(cmd::READY, &[0]), f(cmd::READY, &[0])]);
        // One packet goes on air and completes: room again.
        let mut out = Output::default();
        r.poll(0, None, &mut out);
        let (_, frame) = out.transmit.expect("transmits");
        assert_eq!(frame.len(), 11);
        assert_eq!(&frame[1..], &[0; 10]);
        assert_eq!(frame[0] & 0x0F, 0, "not split");
        let (frames, _) = send(&mut r, &encode(cmd::READY, &[0]));
        assert_eq!(frames, vec![f(cmd::READY, &[0])], "the packet on air still holds its slot");
        r.tx_done(&mut Output::default());
        let (frames, _) = send(&mut r, &encode(cmd::READY, &[0]));
        assert_eq!(frames, vec![f(cmd::READY, &[1])]);
        let (frames, _) = send(&mut r, &encode(cmd::STAT_TX, &[0]));
        assert_eq!(frames, vec![f(cmd::STAT_TX, &[0, 0, 0, 1])]);
    }

    #[test]
    fn csma_waits_for_the_channel_then_a_slot() {
        let mut r = booted();
        configure(&mut r);
        send(&mut r, &encode(cmd::DATA, b"x"));
        let mut out = Output::default();
        r.poll(1_000, Some(50_000), &mut out);
        assert!(out.transmit.is_none(), "the channel is busy");
        let wake = r.next_wakeup().expect("waits");
        let slot = (LoraParams::default().symbol_us() * 4.0).ceil() as u64;
        assert!((50_000 + slot..=50_000 + 4 * slot).contains(&wake), "{wake}");
        r.poll(wake - 1, None, &mut out);
        assert!(out.transmit.is_none(), "not before the backoff");
        r.poll(wake, None, &mut out);
        assert!(out.transmit.is_some());
        assert_eq!(r.next_wakeup(), None);
    }

    #[test]
    fn a_reboot_announces_and_resets_everything() {
        let mut r = booted();
        configure(&mut r);
        send(&mut r, &encode(cmd::DATA, b"queued"));
        let (_, out) = send(&mut r, &[0xC0, 0x55, 0xF8, 0xC0]);
        assert_eq!(out.serial, BOOT_FRAME);
        assert!(out.rebooted);
        assert!(!r.radio_on());
        assert_eq!(r.queued(), 0);
        let (frames, _) = send(&mut r, &encode(cmd::SF, &[0xFF]));
        assert_eq!(frames, vec![f(cmd::SF, &[0])]);
        let mut out = Output::default();
        r.boot(&mut out);
        assert_eq!(out.serial, BOOT_FRAME);
    }

    /// Sends `packet` from `tx` and returns the on-air frames.
    fn on_air(tx: &mut RNode, packet: &[u8]) -> Vec<Vec<u8>> {
        send(tx, &encode(cmd::DATA, packet));
        let mut frames = Vec::new();
        let mut out = Output::default();
        tx.poll(0, None, &mut out);
        while let Some((_, frame)) = out.transmit.take() {
            frames.push(frame);
            tx.tx_done(&mut out);
        }
        frames
    }

    #[test]
    fn a_400_byte_packet_goes_as_two_frames_and_is_reassembled() {
        let mut tx = booted();
        configure(&mut tx);
        let packet: Vec<u8> = (0..400u32).map(|i| (i * 7) as u8).collect();
        let frames = on_air(&mut tx, &packet);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), 255);
        assert_eq!(frames[1].len(), 1 + 400 - 254);
        assert_eq!(frames[0][0], frames[1][0], "same header");
        assert_eq!(frames[0][0] & FLAG_SPLIT, FLAG_SPLIT);
        assert_eq!([&frames[0][1..], &frames[1][1..]].concat(), packet);

        let mut rx = booted();
        configure(&mut rx);
        let mut out = Output::default();
        rx.air_rx(&frames[0], -60, 9.5, &mut out);
        assert!(out.serial.is_empty(), "half a packet is held");
        rx.air_rx(&frames[1], -60, 9.5, &mut out);
        let delivered = Decoder::new(2048).push(&out.serial);
        assert_eq!(delivered, vec![f(cmd::STAT_RSSI, &[97]), f(cmd::STAT_SNR, &[38]), f(cmd::DATA, &packet)]);

        // 254 bytes fit one frame; 255 need two.
        assert_eq!(on_air(&mut tx, &[1; 254]).len(), 1);
        assert_eq!(on_air(&mut tx, &[1; 255]).len(), 2);
        assert_eq!(on_air(&mut tx, &[1; 508]).iter().map(Vec::len).collect::<Vec<_>>(), vec![255, 255]);
    }

    #[test]
    fn a_lone_half_is_never_delivered() {
        let mut tx = booted();
        configure(&mut tx);
        let mut rx = booted();
        configure(&mut rx);
        let first = on_air(&mut tx, &[1; 300]);
        let second = on_air(&mut tx, &[2; 300]);
        let mut out = Output::default();
        // A first half alone, then another packet's second half: nothing.
        let other_header = if second[1][0] == first[0][0] { second[1][0] ^ 0x10 } else { second[1][0] };
        let mut other = second[1].clone();
        other[0] = other_header;
        rx.air_rx(&first[0], -60, 9.5, &mut out);
        rx.air_rx(&other, -60, 9.5, &mut out);
        assert!(out.serial.is_empty());
        // A second half with the right header after a non-split frame: the
        // held half was dropped, so nothing either.
        rx.air_rx(&first[0], -60, 9.5, &mut out);
        rx.air_rx(&[0x30, 9, 9], -60, 9.5, &mut out);
        rx.air_rx(&first[1], -60, 9.5, &mut out);
        let delivered = Decoder::new(2048).push(&out.serial);
        assert_eq!(delivered.last(), Some(&f(cmd::DATA, &[9, 9])));
        assert_eq!(delivered.len(), 3, "only the non-split frame");
        // A lone second half on a fresh receiver: held, never delivered alone.
        let mut rx = booted();
        configure(&mut rx);
        let mut out = Output::default();
        rx.air_rx(&first[1], -60, 9.5, &mut out);
        rx.serial_idle();
        assert!(out.serial.is_empty());
        // Negative SNR and weak RSSI encode as the reference says.
        rx.air_rx(&[0x00, 5], -120, -7.25, &mut out);
        let delivered = Decoder::new(2048).push(&out.serial);
        assert_eq!(delivered[..2], [f(cmd::STAT_RSSI, &[37]), f(cmd::STAT_SNR, &[(-29i8) as u8])]);
    }

    #[test]
    fn frames_are_not_delivered_with_the_radio_off() {
        let mut rx = booted();
        let mut out = Output::default();
        rx.air_rx(&[0x00, 1, 2, 3], -60, 9.5, &mut out);
        assert!(out.serial.is_empty());
    }

    #[test]
    fn unknown_commands_and_bad_payloads_are_ignored_and_counted() {
        let mut r = booted();
        let mut wire = Vec::new();
        wire.extend(encode(0x77, &[1, 2]));
        wire.extend(encode(cmd::FREQUENCY, &[1, 2, 3]));
        wire.extend(encode(cmd::SF, &[]));
        wire.extend(encode(cmd::DETECT, &[0x11]));
        wire.extend(encode(cmd::DETECT, &[DETECT_REQ]));
        let (frames, _) = send(&mut r, &wire);
        assert_eq!(frames, vec![f(cmd::DETECT, &[DETECT_RESP])]);
        assert_eq!(r.serial_errors(), 4);
        // A half frame dropped after silence.
        send(&mut r, &[0xC0, 0x00, 1, 2]);
        assert!(r.partial_input());
        r.serial_idle();
        assert!(!r.partial_input());
        let (frames, _) = send(&mut r, &[3, 0xC0]);
        assert!(frames.is_empty(), "the tail after the dropped half is a TXPOWER frame without payload: rejected");
        assert_eq!(r.serial_errors(), 6, "the abandoned half and the empty TXPOWER");
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = SplitMix64::new(99);
        for round in 0..200 {
            let mut r = RNode::new(RNodeConfig::default(), round);
            r.boot(&mut Output::default());
            if round % 2 == 0 {
                configure(&mut r);
            }
            for step in 0..50u64 {
                let len = rng.below(if round % 10 == 0 { 3_000 } else { 64 }) as usize;
                let bytes: Vec<u8> = (0..len)
                    .map(|_| match rng.below(6) {
                        0 => 0xC0,
                        1 => 0xDB,
                        2 => rng.below(8) as u8,
                        _ => rng.next_u64() as u8,
                    })
                    .collect();
                let mut out = Output::default();
                r.serial_in(&bytes, &mut out);
                r.poll(step, None, &mut out);
                if out.transmit.is_some() {
                    r.tx_done(&mut out);
                }
                let frame: Vec<u8> = (0..rng.below(300)).map(|_| rng.next_u64() as u8).collect();
                r.air_rx(&frame, -200, 100.0, &mut out);
                if rng.below(5) == 0 {
                    r.serial_idle();
                }
            }
        }
    }
}
