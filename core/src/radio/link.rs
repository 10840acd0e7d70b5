//! One radio link, sans-IO: everything the host does for a LoRa link between
//! the router and the driver plugin, whatever the modem.
//!
//! Owns: the link's transmit queue and duty-cycle ledgers (one per sub-band
//! the radio has used), fragmentation of packets larger than the driver's
//! MTU and their reassembly, the single transmit the driver may have
//! outstanding, learning the neighbour from hello frames, the driver's
//! timers, the pause of a driver swap, and the link's counters.
//!
//! Inputs are plain calls with the time in microseconds; outputs are
//! [`RadioOutput`] values the runtime executes (call the driver, write to
//! the serial port, hand a packet to the router, ...). Must not: open ports,
//! call plugins, read a clock or decide routes.
//!
//! Periodic transmissions carry random jitter (drawn from a seeded
//! generator the caller supplies, so tests replay): two nodes started
//! together on a half-duplex channel must not send every hello at the same
//! instant, or neither ever hears the other.
//!
//! Health: a transmit the driver reports failed never went on air, so its
//! airtime is refunded to the duty-cycle ledger and the frame is retried
//! after a growing pause; after [`DEGRADED_AFTER_FAILURES`] failures in a
//! row the link reports itself degraded (logged once, counted) until a
//! transmit succeeds.
//!
//! A radio link joins this node to one neighbour (the first whose hello it
//! hears, or the configured `peer`). Hellos live in the link-control space of
//! the first byte (`docs/WIRE.md`):
//!
//! ```text
//! 0x10 | flags u8 (bit 0: please answer) | sender address (16)
//! ```

use super::duty_cycle::{DutyCycle, HOUR_US, SubBand};
use super::fragment::{self, Reassembler};
use super::tx_queue::{MaybeOnAir, Next, Priority, QueueError, TxCounters, TxFrame, TxQueue};
use std::collections::{BTreeMap, HashMap};
use weft_plugin_api::actions::{CommandReply, Metric, RadioInfo};
use weft_plugin_api::internal::rng::SplitMix64;
use weft_plugin_api::radio::LoraParams;
use weft_plugin_api::{Action, Address, Event, LogLevel, SerialStatus, TimerFired, TransmitRequest};

/// First byte of a hello frame.
pub const HELLO: u8 = 0x10;
/// Bytes of a hello frame.
pub const HELLO_LEN: usize = 2 + 16;
const HELLO_ANSWER: u8 = 0x01;
/// Hellos answered at most this often (a chatty neighbour cannot make this
/// node spend its airtime on answers).
const HELLO_ANSWER_GAP_US: u64 = 2_000_000;
/// The first hello after the driver comes up waits up to this long (at most
/// half the hello interval), so links started together do not collide.
pub const HELLO_STARTUP_JITTER_US: u64 = 2_000_000;
/// Periodic hellos go out every interval plus or minus this share of it.
pub const HELLO_JITTER_SHARE: f64 = 0.1;
/// Transmits failed in a row after which the link counts as degraded.
pub const DEGRADED_AFTER_FAILURES: u32 = 3;
/// Pause before retrying after the first failed transmit, µs; it doubles
/// with each failure in a row, up to [`TX_RETRY_MAX_US`].
pub const TX_RETRY_FIRST_US: u64 = 100_000;
/// Longest pause between retries of a failing transmit, µs.
pub const TX_RETRY_MAX_US: u64 = 10_000_000;

/// Settings of one radio link (from the node config).
#[derive(Debug, Clone, PartialEq)]
pub struct RadioSettings {
    /// Bytes the transmit queue may hold.
    pub queue_limit_bytes: usize,
    /// How long a packet's fragments may take to arrive, µs.
    pub reassembly_timeout_us: u64,
    /// How often a hello goes out while the link is up, µs.
    pub hello_interval_us: u64,
    /// A neighbour not heard for this long is gone, µs.
    pub neighbour_timeout_us: u64,
    /// Duty cycle in percent; `None`: the EU868 sub-band's limit for the
    /// radio's frequency (none outside EU868).
    pub duty_cycle_percent: Option<f64>,
    /// Accept only this neighbour.
    pub peer: Option<Address>,
    /// How long a driver swap waits for the outstanding transmit, µs.
    pub swap_wait_us: u64,
}

impl Default for RadioSettings {
    fn default() -> Self {
        Self {
            queue_limit_bytes: 64 * 1024,
            reassembly_timeout_us: 30_000_000,
            hello_interval_us: 120_000_000,
            neighbour_timeout_us: 600_000_000,
            duty_cycle_percent: None,
            peer: None,
            swap_wait_us: 5_000_000,
        }
    }
}

/// Something the runtime must do for a radio link.
#[derive(Debug, Clone, PartialEq)]
pub enum RadioOutput {
    /// Call the driver with this event.
    Driver(Event),
    /// Write these bytes to the serial port.
    Serial(Vec<u8>),
    /// A packet from the neighbour, for the router.
    Packet(Vec<u8>),
    /// The neighbour is heard: the router may use the link.
    NeighbourUp {
        /// Its address.
        neighbour: Address,
        /// The radio's nominal bit rate (sizes the announce budget).
        bandwidth_bps: u64,
    },
    /// The neighbour is gone.
    NeighbourDown(Address),
    /// The driver logged a line.
    Log(LogLevel, String),
    /// The driver reported a metric.
    Metric(Metric),
    /// The driver answered an operator command.
    CommandReply(CommandReply),
    /// A swap may proceed: nothing is outstanding at the driver.
    SwapReady,
}

/// Counters of one radio link.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RadioCounters {
    /// Packets the router gave the link.
    pub packets_out: u64,
    /// Packets handed to the router.
    pub packets_in: u64,
    /// Packets refused (queue full, too large, over budget).
    pub packets_refused: u64,
    /// Frames received from the driver.
    pub frames_in: u64,
    /// Bytes of those frames.
    pub bytes_in: u64,
    /// Frames the driver reported sent.
    pub frames_out: u64,
    /// Bytes of those frames.
    pub bytes_out: u64,
    /// Transmits the driver reported failed (queued again).
    pub tx_failed: u64,
    /// Hellos sent.
    pub hellos_out: u64,
    /// Hellos received.
    pub hellos_in: u64,
    /// Frames from a node that is not this link's neighbour.
    pub foreign: u64,
    /// Frames that were neither packet, fragment nor hello.
    pub malformed: u64,
    /// Times the link became degraded (transmits failing in a row).
    pub degraded: u64,
    /// Driver swaps completed.
    pub swaps: u64,
    /// Driver swaps rolled back.
    pub swaps_rolled_back: u64,
    /// Times the driver reported the link down.
    pub driver_downs: u64,
    /// Last received signal strength, dBm.
    pub last_rssi_dbm: Option<i16>,
    /// Last signal-to-noise ratio, dB.
    pub last_snr_db: Option<f32>,
}

#[derive(Debug, Clone)]
struct InFlight {
    id: u64,
    frame: TxFrame,
}

#[derive(Debug, Clone, Copy)]
struct Neighbour {
    address: Address,
    last_heard_us: u64,
}

/// The phase of a driver swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swap {
    /// No swap.
    Idle,
    /// Waiting for the outstanding transmit; give up at the deadline.
    Draining { deadline_us: u64 },
    /// The old driver is stopped; waiting for the new one to report up.
    Resyncing { since_us: u64 },
}

/// One radio link's state.
#[derive(Debug)]
pub struct RadioLink {
    own: Address,
    settings: RadioSettings,
    radio: Option<RadioInfo>,
    driver_up: bool,
    driver_detail: String,
    serial_open: bool,
    queue: TxQueue,
    /// Ledgers of sub-bands the radio used before, by name.
    other_ledgers: HashMap<String, DutyCycle>,
    band: Option<String>,
    in_flight: Option<InFlight>,
    next_tx_id: u64,
    retry_at_us: Option<u64>,
    reassembler: Reassembler,
    next_fragment_id: u8,
    neighbour: Option<Neighbour>,
    next_hello_us: Option<u64>,
    last_hello_answer_us: Option<u64>,
    timers: BTreeMap<u64, u64>,
    swap: Swap,
    last_swap_stall_us: Option<u64>,
    max_swap_stall_us: u64,
    /// Jitter for periodic transmissions.
    rng: SplitMix64,
    /// Transmits failed since the last one that went out.
    failed_in_row: u32,
    /// Why the link is degraded, while it is.
    degraded: Option<String>,
    /// What happened so far.
    pub counters: RadioCounters,
}

/// How the link is doing, for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkHealth {
    /// The driver reports the radio not ready.
    Down,
    /// Ready, and transmits go out.
    Up,
    /// The driver says ready, but transmits keep failing.
    Degraded,
}

/// A row describing the link, for `weft ctl links`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RadioStatus {
    /// Whether the driver reports the radio ready.
    pub driver_up: bool,
    /// The driver's last word on the link state.
    pub driver_detail: String,
    /// Up, down, or up but failing to transmit.
    pub health: LinkHealth,
    /// Why it is degraded or down.
    pub health_detail: Option<String>,
    /// Whether the serial port is open.
    pub serial_open: bool,
    /// The neighbour, when one is heard.
    pub neighbour: Option<Address>,
    /// What the modem applied, once known.
    pub radio: Option<RadioInfo>,
    /// The duty-cycle sub-band in force.
    pub band: Option<String>,
    /// Hourly airtime budget, µs.
    pub budget_us: u64,
    /// Airtime used in the last hour, µs.
    pub used_us: u64,
    /// Frames waiting.
    pub queued_frames: usize,
    /// Bytes waiting.
    pub queued_bytes: usize,
    /// Packets waiting for fragments.
    pub reassembling: usize,
    /// Transmit queue counters.
    pub tx: TxCounters,
    /// Reassembly counters.
    pub reassembly: fragment::ReassemblyCounters,
    /// Link counters.
    pub counters: RadioCounters,
    /// Last swap: old driver stopped -> new driver ready, µs.
    pub last_swap_stall_us: Option<u64>,
    /// Longest swap stall so far, µs.
    pub max_swap_stall_us: u64,
}

/// The priority of a routed packet on a radio: floods, announces and path
/// requests are bulk; unicast data, returns and traces go first.
pub fn priority_of(packet: &[u8]) -> Priority {
    match packet.first().map(|b| (b >> 3) & 0b111) {
        Some(1..=3) => Priority::Bulk,
        _ => Priority::Data,
    }
}

impl RadioLink {
    /// A link of node `own` with `settings`; nothing is known of the radio
    /// yet. `seed` seeds the jitter of periodic transmissions (the runtime
    /// draws it from the OS; tests fix it).
    pub fn new(own: Address, settings: RadioSettings, seed: u64) -> Self {
        let ledger = match settings.duty_cycle_percent {
            Some(percent) => DutyCycle::new(percent_budget(percent)),
            None => DutyCycle::new(HOUR_US),
        };
        Self {
            own,
            queue: TxQueue::new(ledger, settings.queue_limit_bytes),
            reassembler: Reassembler::new(settings.reassembly_timeout_us),
            settings,
            radio: None,
            driver_up: false,
            driver_detail: "driver starting".into(),
            serial_open: false,
            other_ledgers: HashMap::new(),
            band: None,
            in_flight: None,
            next_tx_id: 1,
            retry_at_us: None,
            next_fragment_id: 0,
            neighbour: None,
            next_hello_us: None,
            last_hello_answer_us: None,
            timers: BTreeMap::new(),
            swap: Swap::Idle,
            last_swap_stall_us: None,
            max_swap_stall_us: 0,
            rng: SplitMix64::new(seed),
            failed_in_row: 0,
            degraded: None,
            counters: RadioCounters::default(),
        }
    }

    /// Up, down or degraded, and why.
    pub fn health(&self) -> (LinkHealth, Option<String>) {
        match (&self.degraded, self.driver_up) {
            (_, false) => (LinkHealth::Down, Some(self.driver_detail.clone())),
            (Some(why), true) => (LinkHealth::Degraded, Some(why.clone())),
            (None, true) => (LinkHealth::Up, None),
        }
    }

    /// The neighbour, when one is heard.
    pub fn neighbour(&self) -> Option<Address> {
        self.neighbour.map(|n| n.address)
    }

    /// Whether the driver reports the radio ready.
    pub fn driver_up(&self) -> bool {
        self.driver_up
    }

    /// The radio parameters the modem applied, once known.
    pub fn params(&self) -> Option<LoraParams> {
        self.radio.map(params_of)
    }

    /// A status row at `now_us`.
    pub fn status(&mut self, now_us: u64) -> RadioStatus {
        let (health, health_detail) = self.health();
        RadioStatus {
            driver_up: self.driver_up,
            driver_detail: self.driver_detail.clone(),
            health,
            health_detail,
            serial_open: self.serial_open,
            neighbour: self.neighbour(),
            radio: self.radio,
            band: self.band.clone(),
            budget_us: self.queue.budget_us(),
            used_us: self.queue.used_us(now_us),
            queued_frames: self.queue.len() + usize::from(self.in_flight.is_some()),
            queued_bytes: self.queue.queued_bytes(),
            reassembling: self.reassembler.waiting(),
            tx: self.queue.counters,
            reassembly: self.reassembler.counters,
            counters: self.counters,
            last_swap_stall_us: self.last_swap_stall_us,
            max_swap_stall_us: self.max_swap_stall_us,
        }
    }

    /// The router hands a packet to the link. It is fragmented to the
    /// driver's MTU and queued whole or not at all; the error says why not.
    pub fn send_packet(&mut self, packet: &[u8], now_us: u64, out: &mut Vec<RadioOutput>) -> Result<(), String> {
        let Some(radio) = self.radio else {
            self.counters.packets_refused += 1;
            return Err("the radio link has not come up yet".into());
        };
        let id = self.next_fragment_id;
        let frames = match fragment::fragment(packet, usize::from(radio.mtu), id) {
            Ok(frames) => frames,
            Err(e) => {
                self.counters.packets_refused += 1;
                return Err(e.to_string());
            }
        };
        if frames.len() > 1 {
            self.next_fragment_id = self.next_fragment_id.wrapping_add(1);
        }
        let params = params_of(radio);
        let airtimes: Vec<u64> = frames.iter().map(|f| params.time_on_air_us(f.len())).collect();
        if let Err(e) = self.queue.push_all(frames, priority_of(packet), &airtimes, now_us) {
            self.counters.packets_refused += 1;
            return Err(match e {
                QueueError::Full { .. } | QueueError::OverBudget { .. } => e.to_string(),
            });
        }
        self.counters.packets_out += 1;
        self.pump(now_us, out);
        Ok(())
    }

    /// The serial port opened or closed.
    pub fn serial_status(&mut self, open: bool, detail: String, out: &mut Vec<RadioOutput>) {
        self.serial_open = open;
        out.push(RadioOutput::Driver(Event::SerialStatus(SerialStatus { open, detail })));
    }

    /// Bytes read from the serial port.
    pub fn serial_rx(&mut self, bytes: Vec<u8>, out: &mut Vec<RadioOutput>) {
        out.push(RadioOutput::Driver(Event::SerialRx(weft_plugin_api::SerialRx { bytes })));
    }

    /// Executes the driver's actions.
    pub fn driver_actions(&mut self, actions: Vec<Action>, now_us: u64, out: &mut Vec<RadioOutput>) {
        for action in actions {
            match action {
                Action::SerialWrite(write) => out.push(RadioOutput::Serial(write.bytes)),
                Action::FrameReceived(frame) => {
                    self.counters.frames_in += 1;
                    self.counters.bytes_in += frame.frame.len() as u64;
                    self.counters.last_rssi_dbm = frame.rssi_dbm.or(self.counters.last_rssi_dbm);
                    self.counters.last_snr_db = frame.snr_db.or(self.counters.last_snr_db);
                    self.frame_in(frame.frame, now_us, out);
                }
                Action::TransmitDone(done) => self.transmit_done(done.id, done.ok, now_us, out),
                Action::LinkState(state) => self.link_state(state.up, state.detail, now_us),
                Action::RadioInfo(info) => self.radio_info(info),
                Action::SetTimer(timer) => {
                    self.timers.insert(timer.id, now_us.saturating_add(timer.after_ms.saturating_mul(1000)));
                }
                Action::CancelTimer(timer) => {
                    self.timers.remove(&timer.id);
                }
                Action::Log(log) => out.push(RadioOutput::Log(log.level, log.message)),
                Action::Metric(metric) => out.push(RadioOutput::Metric(metric)),
                Action::CommandReply(reply) => out.push(RadioOutput::CommandReply(reply)),
                other => out.push(RadioOutput::Log(
                    LogLevel::Warn,
                    format!("action {} refused: drivers may not do this on a radio link", other.tag()),
                )),
            }
        }
        self.pump(now_us, out);
    }

    fn transmit_done(&mut self, id: u64, ok: bool, now_us: u64, out: &mut Vec<RadioOutput>) {
        let Some(flight) = self.in_flight.take_if(|f| f.id == id) else {
            out.push(RadioOutput::Log(LogLevel::Debug, format!("transmit {id} reported done but was not outstanding")));
            return;
        };
        if ok {
            self.counters.frames_out += 1;
            self.counters.bytes_out += flight.frame.frame.len() as u64;
            self.transmit_succeeded(out);
        } else {
            self.counters.tx_failed += 1;
            self.queue.requeue_front(flight.frame, MaybeOnAir::No);
            self.transmit_failed(now_us, out);
        }
        self.swap_progress(now_us, out);
    }

    fn transmit_succeeded(&mut self, out: &mut Vec<RadioOutput>) {
        self.failed_in_row = 0;
        self.retry_at_us = None;
        if self.degraded.take().is_some() {
            out.push(RadioOutput::Log(LogLevel::Info, "radio link recovered: transmits go out again".into()));
        }
    }

    /// Backs off before the next try; degraded after enough failures in a row.
    fn transmit_failed(&mut self, now_us: u64, out: &mut Vec<RadioOutput>) {
        self.failed_in_row = self.failed_in_row.saturating_add(1);
        let doublings = (self.failed_in_row - 1).min(16);
        let pause = TX_RETRY_FIRST_US.saturating_mul(1 << doublings).min(TX_RETRY_MAX_US);
        self.retry_at_us = Some(now_us.saturating_add(pause));
        if self.failed_in_row >= DEGRADED_AFTER_FAILURES && self.degraded.is_none() {
            let why = format!(
                "{} transmits in a row failed at the driver (it says: {}); retrying every {} ms at most",
                self.failed_in_row,
                self.driver_detail,
                TX_RETRY_MAX_US / 1_000
            );
            self.counters.degraded += 1;
            out.push(RadioOutput::Log(LogLevel::Warn, format!("radio link degraded: {why}")));
            self.degraded = Some(why);
        }
    }

    /// When the next hello goes out after one at `now_us`: the interval,
    /// plus or minus [`HELLO_JITTER_SHARE`] of it.
    fn next_hello_after(&mut self, now_us: u64) -> u64 {
        let interval = self.settings.hello_interval_us;
        let spread = (interval as f64 * HELLO_JITTER_SHARE) as u64;
        let jitter = self.rng.up_to(spread.saturating_mul(2));
        now_us.saturating_add(interval).saturating_add(jitter).saturating_sub(spread).max(now_us.saturating_add(1))
    }

    fn link_state(&mut self, up: bool, detail: String, now_us: u64) {
        if self.driver_up && !up {
            self.counters.driver_downs += 1;
        }
        self.driver_up = up;
        self.driver_detail = detail;
        if !up {
            // A fresh start: whatever failed before is the old session's.
            self.failed_in_row = 0;
            self.degraded = None;
            return;
        }
        if let Swap::Resyncing { since_us } = self.swap {
            let stall = now_us.saturating_sub(since_us);
            self.last_swap_stall_us = Some(stall);
            self.max_swap_stall_us = self.max_swap_stall_us.max(stall);
            self.swap = Swap::Idle;
        }
        // (Re)announce ourselves soon, at a random moment (two radios brought
        // up together would otherwise talk over each other on every hello);
        // `poll` sends it and asks for an answer until a neighbour is heard.
        let window = HELLO_STARTUP_JITTER_US.min(self.settings.hello_interval_us / 2);
        self.next_hello_us = Some(now_us.saturating_add(self.rng.up_to(window)));
    }

    fn radio_info(&mut self, info: RadioInfo) {
        self.radio = Some(info);
        if self.settings.duty_cycle_percent.is_some() {
            return;
        }
        let band = SubBand::eu868(info.frequency_hz);
        let name = band.map(|b| b.name.to_string());
        if name == self.band {
            return;
        }
        // The radio moved to another sub-band: each keeps its own ledger.
        let ledger = match (&name, band) {
            (Some(n), Some(band)) => self.other_ledgers.remove(n).unwrap_or_else(|| DutyCycle::for_band(band)),
            _ => DutyCycle::new(HOUR_US),
        };
        let old = self.queue.replace_ledger(ledger);
        if let Some(old_name) = self.band.take() {
            self.other_ledgers.insert(old_name, old);
        }
        self.band = name;
    }

    fn frame_in(&mut self, frame: Vec<u8>, now_us: u64, out: &mut Vec<RadioOutput>) {
        let Some(&first) = frame.first() else {
            self.counters.malformed += 1;
            return;
        };
        if first == HELLO {
            self.hello_in(&frame, now_us, out);
            return;
        }
        let packet = if fragment::is_fragment(&frame) {
            match self.reassembler.push(&frame, now_us) {
                Some(packet) => packet,
                None => return,
            }
        } else if first >> 6 == 0 {
            // Link control this build does not know.
            self.counters.malformed += 1;
            return;
        } else {
            frame
        };
        match &mut self.neighbour {
            Some(n) => {
                n.last_heard_us = now_us;
                self.counters.packets_in += 1;
                out.push(RadioOutput::Packet(packet));
            }
            None => {
                // Someone talks but we do not know who: ask for a hello.
                self.counters.foreign += 1;
                self.queue_hello(true, now_us, out);
            }
        }
    }

    fn hello_in(&mut self, frame: &[u8], now_us: u64, out: &mut Vec<RadioOutput>) {
        let Some(address) = frame.get(2..).and_then(|rest| <[u8; 16]>::try_from(rest).ok()).map(Address) else {
            self.counters.malformed += 1;
            return;
        };
        self.counters.hellos_in += 1;
        if address == self.own || self.settings.peer.is_some_and(|p| p != address) {
            self.counters.foreign += 1;
            return;
        }
        let answer = frame[1] & HELLO_ANSWER != 0;
        match &mut self.neighbour {
            Some(n) if n.address == address => n.last_heard_us = now_us,
            Some(_) => {
                // Another node on the channel: this link serves one neighbour.
                self.counters.foreign += 1;
                return;
            }
            None => {
                self.neighbour = Some(Neighbour { address, last_heard_us: now_us });
                let bandwidth_bps = self.params().map_or(1_000, |p| p.bitrate_bps() as u64);
                out.push(RadioOutput::NeighbourUp { neighbour: address, bandwidth_bps });
            }
        }
        let recently = self.last_hello_answer_us.is_some_and(|t| now_us.saturating_sub(t) < HELLO_ANSWER_GAP_US);
        if answer && !recently {
            self.last_hello_answer_us = Some(now_us);
            self.queue_hello(false, now_us, out);
        }
    }

    fn queue_hello(&mut self, ask: bool, now_us: u64, out: &mut Vec<RadioOutput>) {
        let Some(radio) = self.radio else { return };
        let mut hello = Vec::with_capacity(HELLO_LEN);
        hello.push(HELLO);
        hello.push(if ask { HELLO_ANSWER } else { 0 });
        hello.extend_from_slice(self.own.as_bytes());
        let airtime = params_of(radio).time_on_air_us(hello.len());
        if self.queue.push(hello, Priority::Control, airtime, now_us).is_ok() {
            self.counters.hellos_out += 1;
        }
        self.pump(now_us, out);
    }

    /// Hands the driver the next frame when it may take one.
    fn pump(&mut self, now_us: u64, out: &mut Vec<RadioOutput>) {
        if !self.driver_up || self.in_flight.is_some() || self.swap != Swap::Idle {
            return;
        }
        if self.retry_at_us.is_some_and(|t| t > now_us) {
            return;
        }
        self.retry_at_us = None;
        match self.queue.next(now_us) {
            Next::Send(frame) => {
                let id = self.next_tx_id;
                self.next_tx_id += 1;
                let request = TransmitRequest { id, frame: frame.frame.clone() };
                self.in_flight = Some(InFlight { id, frame });
                out.push(RadioOutput::Driver(Event::Transmit(request)));
            }
            Next::WaitUntil(at) => self.retry_at_us = Some(at),
            Next::Idle => {}
        }
    }

    /// Work due at `now_us`: driver timers, hellos, reassembly and neighbour
    /// timeouts, a swap that waited too long, frames the budget now allows.
    pub fn poll(&mut self, now_us: u64, out: &mut Vec<RadioOutput>) {
        while let Some((&id, &at)) = self.timers.iter().min_by_key(|(_, at)| **at) {
            if at > now_us {
                break;
            }
            self.timers.remove(&id);
            out.push(RadioOutput::Driver(Event::Timer(TimerFired { id })));
        }
        self.reassembler.expire(now_us);
        if self.next_hello_us.is_some_and(|t| t <= now_us) {
            self.next_hello_us = Some(self.next_hello_after(now_us));
            if self.driver_up {
                self.queue_hello(self.neighbour.is_none(), now_us, out);
            }
        }
        if let Some(n) = self.neighbour
            && now_us.saturating_sub(n.last_heard_us) >= self.settings.neighbour_timeout_us
        {
            self.neighbour = None;
            out.push(RadioOutput::NeighbourDown(n.address));
        }
        if let Swap::Draining { deadline_us } = self.swap
            && deadline_us <= now_us
        {
            // The old driver never answered: the frame may or may not have
            // gone out. Queue it again (a duplicate beats a loss) and swap.
            if let Some(flight) = self.in_flight.take() {
                self.counters.tx_failed += 1;
                self.queue.requeue_front(flight.frame, MaybeOnAir::Perhaps);
                out.push(RadioOutput::Log(
                    LogLevel::Warn,
                    "the old driver never finished its transmit; the frame is queued again".into(),
                ));
            }
            self.swap_progress(now_us, out);
        }
        self.pump(now_us, out);
    }

    /// The earliest time [`RadioLink::poll`] has work, µs.
    pub fn next_deadline_us(&self) -> Option<u64> {
        let swap = match self.swap {
            Swap::Draining { deadline_us } => Some(deadline_us),
            _ => None,
        };
        let retry = self.retry_at_us.filter(|_| self.driver_up && self.in_flight.is_none());
        [
            self.timers.values().min().copied(),
            self.reassembler.next_deadline(),
            self.next_hello_us,
            self.neighbour.map(|n| n.last_heard_us + self.settings.neighbour_timeout_us),
            swap,
            retry,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Starts a driver swap: no new frames go to the driver; once nothing
    /// is outstanding (now, or after the driver answers, or after
    /// `swap_wait_us`) the output carries [`RadioOutput::SwapReady`].
    pub fn begin_swap(&mut self, now_us: u64, out: &mut Vec<RadioOutput>) {
        self.swap = Swap::Draining { deadline_us: now_us + self.settings.swap_wait_us };
        self.swap_progress(now_us, out);
    }

    fn swap_progress(&mut self, now_us: u64, out: &mut Vec<RadioOutput>) {
        if matches!(self.swap, Swap::Draining { .. }) && self.in_flight.is_none() {
            self.swap = Swap::Resyncing { since_us: now_us };
            out.push(RadioOutput::SwapReady);
        }
    }

    /// The runtime replaced the driver (`rolled_back`: the new one failed
    /// and the old one runs again). Timers belonged to the old instance; the
    /// driver counts as down until the new one reports up.
    pub fn driver_replaced(&mut self, rolled_back: bool) {
        self.timers.clear();
        self.driver_up = false;
        self.driver_detail = "driver swapped; re-syncing with the modem".into();
        if rolled_back {
            self.counters.swaps_rolled_back += 1;
        } else {
            self.counters.swaps += 1;
        }
    }

    /// Whether a swap is waiting for the outstanding transmit.
    pub fn swap_draining(&self) -> bool {
        matches!(self.swap, Swap::Draining { .. })
    }
}

fn percent_budget(percent: f64) -> u64 {
    (HOUR_US as f64 * percent.clamp(0.0, 100.0) / 100.0) as u64
}

/// The LoRa parameters a driver reported.
pub fn params_of(info: RadioInfo) -> LoraParams {
    LoraParams {
        frequency_hz: info.frequency_hz,
        bandwidth_hz: info.bandwidth_hz,
        spreading_factor: info.spreading_factor,
        coding_rate: info.coding_rate,
        tx_power_dbm: info.tx_power_dbm,
        preamble_symbols: info.preamble_symbols,
        crc: true,
        implicit_header: false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{done, info, received, transmits};
    use super::*;
    use weft_plugin_api::actions::LinkState;

    const MS: u64 = 1_000;

    /// A link whose driver reported `mtu` and came up.
    fn up(own: u8, mtu: u16, settings: RadioSettings) -> (RadioLink, Vec<RadioOutput>) {
        let mut link = RadioLink::new(Address([own; 16]), settings, u64::from(own));
        let mut out = Vec::new();
        let actions =
            vec![Action::RadioInfo(info(mtu)), Action::LinkState(LinkState { up: true, detail: "configured".into() })];
        link.driver_actions(actions, 0, &mut out);
        // The first hello waits a random moment, at most this long.
        link.poll(HELLO_STARTUP_JITTER_US, &mut out);
        (link, out)
    }

    /// Carries every frame `from` transmits to `to` (dropping those `lose`
    /// picks) and acknowledges it, until nothing moves; returns what `to`
    /// produced for the router.
    fn carry(
        from: &mut RadioLink,
        from_out: &mut Vec<RadioOutput>,
        to: &mut RadioLink,
        now_us: u64,
        mut lose: impl FnMut(usize) -> bool,
    ) -> Vec<RadioOutput> {
        let mut delivered = Vec::new();
        let mut n = 0;
        loop {
            let sent = transmits(from_out);
            if sent.is_empty() {
                break;
            }
            for t in sent {
                if !lose(n) {
                    to.driver_actions(vec![received(t.frame)], now_us, &mut delivered);
                }
                n += 1;
                from.driver_actions(vec![done(t.id, true)], now_us, from_out);
            }
        }
        delivered
    }

    fn packets(out: &[RadioOutput]) -> Vec<Vec<u8>> {
        out.iter().filter_map(|o| if let RadioOutput::Packet(p) = o { Some(p.clone()) } else { None }).collect()
    }

    /// Two links that heard each other's hellos.
    fn pair(mtu: u16, settings: RadioSettings) -> (RadioLink, RadioLink) {
        let (mut a, mut a_out) = up(1, mtu, settings.clone());
        let (mut b, mut b_out) = up(2, mtu, settings);
        let mut ups = 0;
        // Hellos and their answers, until the air is quiet.
        for _ in 0..4 {
            let at_b = carry(&mut a, &mut a_out, &mut b, 0, |_| false);
            let at_a = carry(&mut b, &mut b_out, &mut a, 0, |_| false);
            ups += at_a.iter().chain(&at_b).filter(|o| matches!(o, RadioOutput::NeighbourUp { .. })).count();
            b_out.extend(at_b);
            a_out.extend(at_a);
        }
        assert_eq!(ups, 2, "each side announces its neighbour once");
        assert!(transmits(&mut a_out).is_empty() && transmits(&mut b_out).is_empty());
        (a, b)
    }

    fn data_packet(len: usize) -> Vec<u8> {
        // First byte 0x40: version 1, kind Data: a routed packet, not link control.
        let mut p = vec![0x40];
        p.extend((1..len).map(|i| (i * 7 % 251) as u8));
        p
    }

    #[test]
    fn hellos_make_the_two_ends_neighbours() {
        let (a, b) = pair(255, RadioSettings::default());
        assert_eq!(a.neighbour(), Some(Address([2; 16])));
        assert_eq!(b.neighbour(), Some(Address([1; 16])));
    }

    #[test]
    fn a_two_kilobyte_packet_crosses_255_byte_frames_intact() {
        let (mut a, mut b) = pair(255, RadioSettings::default());
        let packet = data_packet(2048);
        let mut out = Vec::new();
        a.send_packet(&packet, MS, &mut out).expect("queued");
        let mut frames = 0;
        let delivered = carry(&mut a, &mut out, &mut b, MS, |_| {
            frames += 1;
            false
        });
        assert_eq!(frames, 9, "2048 bytes in frames of 252 payload bytes");
        assert_eq!(packets(&delivered), vec![packet]);
    }

    #[test]
    fn a_lost_fragment_loses_the_packet_and_is_counted_never_delivered_corrupt() {
        let settings = RadioSettings { reassembly_timeout_us: 5_000 * MS, ..RadioSettings::default() };
        let (mut a, mut b) = pair(255, settings);
        let mut out = Vec::new();
        a.send_packet(&data_packet(2048), MS, &mut out).expect("queued");
        let delivered = carry(&mut a, &mut out, &mut b, MS, |n| n == 4);
        assert!(packets(&delivered).is_empty());
        let mut later = Vec::new();
        b.poll(MS + 5_001 * MS, &mut later);
        assert!(packets(&later).is_empty());
        assert_eq!(b.status(MS + 5_001 * MS).reassembly.timed_out, 1);
        // The next packet is unaffected.
        let packet = data_packet(600);
        a.send_packet(&packet, 6_000 * MS, &mut out).expect("queued");
        let delivered = carry(&mut a, &mut out, &mut b, 6_000 * MS, |_| false);
        assert_eq!(packets(&delivered), vec![packet]);
    }

    #[test]
    fn a_failed_transmit_is_sent_again_first_and_order_holds() {
        let (mut a, mut b) = pair(255, RadioSettings::default());
        let mut out = Vec::new();
        let (one, two) = (data_packet(100), data_packet(120));
        a.send_packet(&one, MS, &mut out).expect("queued");
        a.send_packet(&two, MS, &mut out).expect("queued");
        let first = transmits(&mut out);
        assert_eq!(first.len(), 1, "one transmit outstanding at a time");
        a.driver_actions(vec![done(first[0].id, false)], MS, &mut out);
        assert!(transmits(&mut out).is_empty(), "a failed transmit is retried after a pause, not at once");
        let retry_at = MS + TX_RETRY_FIRST_US;
        a.poll(retry_at, &mut out);
        let delivered = carry(&mut a, &mut out, &mut b, retry_at, |_| false);
        assert_eq!(packets(&delivered), vec![one, two]);
        assert_eq!(a.counters.tx_failed, 1);
    }

    #[test]
    fn an_hour_of_full_load_stays_within_the_duty_cycle_and_loses_nothing() {
        // 1 % of an hour is 36 s of airtime; offer far more than that.
        let settings =
            RadioSettings { queue_limit_bytes: 4 << 20, duty_cycle_percent: Some(1.0), ..RadioSettings::default() };
        let (mut a, mut b) = pair(255, settings);
        let budget = HOUR_US / 100;
        let mut now = MS;
        let mut out = Vec::new();
        let mut sent_log: Vec<(u64, u64)> = Vec::new(); // (start, airtime)
        let mut offered = 0;
        let mut delivered = 0;
        // Two simulated hours in 100 ms steps, a 200-byte packet offered every step.
        while now < 2 * HOUR_US {
            if a.send_packet(&data_packet(200), now, &mut out).is_ok() {
                offered += 1;
            }
            a.poll(now, &mut out);
            for t in transmits(&mut out) {
                // Hellos share the ledger: log every frame at its own airtime.
                sent_log.push((now, LoraParams::default().time_on_air_us(t.frame.len())));
                let mut at_b = Vec::new();
                b.driver_actions(vec![received(t.frame)], now, &mut at_b);
                delivered += packets(&at_b).len();
                // (Acknowledged at once: the next frame's start is then `now`
                // for the queue and for this log alike.)
                a.driver_actions(vec![done(t.id, true)], now, &mut out);
            }
            now += 100 * MS;
        }
        // No one-hour window holds more airtime than the budget.
        for &(start, _) in &sent_log {
            let in_window: u64 =
                sent_log.iter().filter(|(s, _)| *s >= start && *s < start + HOUR_US).map(|(_, a)| a).sum();
            assert!(in_window <= budget, "window from {start} µs used {in_window} µs of {budget}");
        }
        let used: u64 = sent_log.iter().map(|(_, a)| a).sum();
        assert!(used > budget, "the load used the budget of both hours ({used} µs)");
        // Everything offered was delivered or still waits: nothing dropped.
        let hellos_waiting = (a.counters.hellos_out - b.counters.hellos_in) as usize;
        let waiting = a.status(now).queued_frames - hellos_waiting;
        assert_eq!(offered, delivered + waiting);
        assert!(waiting > 0, "the offered load exceeds what two hours of budget carry");
        assert!(a.status(now).tx.held_for_budget > 0);
    }

    #[test]
    fn a_swap_waits_for_the_outstanding_frame_then_pauses_until_the_new_driver_is_up() {
        let (mut a, mut b) = pair(255, RadioSettings::default());
        let mut out = Vec::new();
        a.send_packet(&data_packet(100), MS, &mut out).expect("queued");
        a.send_packet(&data_packet(110), MS, &mut out).expect("queued");
        let outstanding = transmits(&mut out);
        a.begin_swap(2 * MS, &mut out);
        assert!(!out.contains(&RadioOutput::SwapReady), "must wait for the outstanding frame");
        a.driver_actions(vec![done(outstanding[0].id, true)], 3 * MS, &mut out);
        assert!(out.contains(&RadioOutput::SwapReady));
        out.clear();
        a.driver_replaced(false);
        a.poll(4 * MS, &mut out);
        assert!(transmits(&mut out).is_empty(), "no frames to a driver that is not up");
        a.driver_actions(vec![Action::LinkState(LinkState { up: true, detail: "re-synced".into() })], 9 * MS, &mut out);
        assert_eq!(a.status(9 * MS).last_swap_stall_us, Some(6 * MS));
        let delivered = carry(&mut a, &mut out, &mut b, 9 * MS, |_| false);
        assert_eq!(packets(&delivered), vec![data_packet(110)]);
    }

    #[test]
    fn a_swap_whose_old_driver_never_answers_requeues_the_frame() {
        let settings = RadioSettings { swap_wait_us: 100 * MS, ..RadioSettings::default() };
        let (mut a, _) = pair(255, settings);
        let mut out = Vec::new();
        a.send_packet(&data_packet(100), MS, &mut out).expect("queued");
        assert_eq!(transmits(&mut out).len(), 1);
        a.begin_swap(2 * MS, &mut out);
        a.poll(102 * MS, &mut out);
        assert!(out.contains(&RadioOutput::SwapReady));
        assert_eq!(a.status(102 * MS).queued_frames, 1, "the frame waits for the new driver");
    }

    #[test]
    fn only_the_configured_peer_becomes_the_neighbour() {
        let settings = RadioSettings { peer: Some(Address([9; 16])), ..RadioSettings::default() };
        let (mut a, _) = up(1, 255, settings);
        let mut hello = vec![HELLO, 0];
        hello.extend_from_slice(&[2; 16]);
        let mut out = Vec::new();
        a.driver_actions(vec![received(hello)], MS, &mut out);
        assert_eq!(a.neighbour(), None);
        assert_eq!(a.counters.foreign, 1);
    }

    #[test]
    fn the_driver_timers_fire_in_order() {
        let (mut a, _) = up(1, 255, RadioSettings::default());
        let mut out = Vec::new();
        let timers = vec![
            Action::SetTimer(weft_plugin_api::actions::SetTimer { id: 2, after_ms: 20 }),
            Action::SetTimer(weft_plugin_api::actions::SetTimer { id: 1, after_ms: 10 }),
        ];
        a.driver_actions(timers, 0, &mut out);
        out.clear();
        a.poll(30 * MS, &mut out);
        let fired: Vec<u64> = out
            .iter()
            .filter_map(|o| if let RadioOutput::Driver(Event::Timer(t)) = o { Some(t.id) } else { None })
            .collect();
        assert_eq!(fired, vec![1, 2]);
    }
}
