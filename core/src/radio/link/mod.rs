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
//! A radio link serves every node in range: a neighbour is adopted from a
//! hello whose signature holds (bound to the node's identity, newer than
//! any hello taken from it before), each gets a number (the router sees
//! `radio#R.N` as one link per neighbour), unicast frames name their next
//! hop and carry a tag only the two ends can make, and a flood goes on the
//! air once for all. Frames from anyone else are ignored and counted. The
//! frame layouts are in `radio/frame.rs` and `docs/WIRE.md`.
//!
//! Its files, one idea each (`impl RadioLink` blocks but `interface`):
//!
//! - [`interface`]: settings, outputs, counters, health and status.
//! - this one: the link's state, the driver's actions and timers, polling,
//!   swaps.
//! - `neighbours`: the table of verified neighbours.
//! - `hello`: hellos and frames in: who is a neighbour, which frames are
//!   theirs, reassembly.
//! - `transmit`: packets out: queueing, the one outstanding transmit,
//!   retries with backoff, health.
//! - `last_hop`: session messages on their last hop as compact frames.
//! - `relay`: managed flooding: relayed floods wait (low SNR first) and
//!   are cancelled when every neighbour already has them.

mod hello;
pub mod interface;
mod last_hop;
mod neighbours;
mod relay;
#[cfg(test)]
mod tests;
mod transmit;

pub use interface::*;
pub use relay::{
    COPIES_REMEMBERED, COVER_SLOTS, JITTER_SLOTS, MAX_FILTER_BITS, RELAY_STALE_US, RELAYS_WAITING, cover_slots,
    uncovered,
};
pub use transmit::priority_of;

use super::duty_cycle::{DutyCycle, HOUR_US, SubBand};
use super::fragment::{self, Reassembler};
use super::frame::ShortId;
use super::tx_queue::{MaybeOnAir, Next, Priority, TxFrame, TxQueue};
use crate::crypto::NodeIdentity;
use crate::routing::limits::TokenBucket;
use crate::time::{Micros, UnixMillis};
use neighbours::Neighbours;
use std::collections::{BTreeMap, HashMap};
use weft_plugin_api::actions::RadioInfo;
use weft_plugin_api::internal::rng::SplitMix64;
use weft_plugin_api::radio::LoraParams;
use weft_plugin_api::{Action, Address, Event, LogLevel, SerialStatus, TimerFired, TransmitRequest};

/// Hellos answered (or asked for) at most this often: a chatty or hostile
/// node cannot make this node spend its airtime on hellos.
const HELLO_ANSWER_GAP_US: u64 = 2_000_000;
/// An answer to a hello waits a random moment up to this long, so the
/// nodes that heard one ask do not all answer at once.
pub const HELLO_ANSWER_JITTER_US: u64 = 1_500_000;
/// Hello signatures checked per second at most (and burst).
pub const HELLOS_VERIFIED_PER_S: f64 = 20.0;
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

#[derive(Debug, Clone)]
struct InFlight {
    id: u64,
    frame: TxFrame,
}

/// The signal a frame arrived with, as the driver reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Signal {
    rssi_dbm: Option<i16>,
    snr_db: Option<f32>,
}

/// The phase of a driver swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swap {
    /// No swap.
    Idle,
    /// Waiting for the outstanding transmit; give up at the deadline.
    Draining { deadline: Micros },
    /// The old driver is stopped; waiting for the new one to report up.
    Resyncing { since: Micros },
}

/// One radio link's state.
#[derive(Debug)]
pub struct RadioLink {
    identity: NodeIdentity,
    own: Address,
    short: ShortId,
    wall_start: UnixMillis,
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
    retry_at: Option<Micros>,
    reassembler: Reassembler,
    next_fragment_id: u8,
    neighbours: Neighbours,
    relays: relay::Relays,
    next_hello: Option<Micros>,
    /// When an answer to a hello that asked for one goes out.
    answer_at: Option<Micros>,
    last_hello_answer: Option<Micros>,
    /// The time our last hello carried, Unix seconds.
    last_hello_sent_s: u32,
    hello_checks: TokenBucket,
    /// The driver's timers: id to deadline.
    timers: BTreeMap<u64, Micros>,
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

impl RadioLink {
    /// A link of node `identity` with `settings`; nothing is known of the
    /// radio yet. `wall_start` is the Unix time at the monotonic clock's
    /// origin (hellos carry the time). `seed` seeds the jitter of periodic
    /// transmissions (the runtime draws it from the OS; tests fix it).
    pub fn new(identity: &NodeIdentity, wall_start: UnixMillis, settings: RadioSettings, seed: u64) -> Self {
        let own = identity.address();
        let ledger = match settings.duty_cycle_percent {
            Some(percent) => DutyCycle::new(percent_budget(percent)),
            None => DutyCycle::new(HOUR_US),
        };
        Self {
            identity: NodeIdentity::from_secret(identity.secret_seed()),
            own,
            short: ShortId::of(&own),
            wall_start,
            neighbours: Neighbours::new(settings.max_neighbours),
            relays: relay::Relays::default(),
            hello_checks: TokenBucket::new(HELLOS_VERIFIED_PER_S, HELLOS_VERIFIED_PER_S, crate::time::Millis::ZERO),
            answer_at: None,
            last_hello_sent_s: 0,
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
            retry_at: None,
            next_fragment_id: 0,
            next_hello: None,
            last_hello_answer: None,
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

    /// The neighbours that are up: number and address.
    pub fn neighbours(&self) -> Vec<(u32, Address)> {
        self.neighbours.usable().map(|n| (n.number, n.address)).collect()
    }

    /// This node's short id on the channel.
    pub fn short_id(&self) -> ShortId {
        self.short
    }

    /// Whether the serial port is open.
    pub fn serial_open(&self) -> bool {
        self.serial_open
    }

    /// Whether the driver reports the radio ready.
    pub fn driver_up(&self) -> bool {
        self.driver_up
    }

    /// The radio parameters the modem applied, once known.
    pub fn params(&self) -> Option<LoraParams> {
        self.radio.map(params_of)
    }

    /// A status row at `now`.
    pub fn status(&mut self, now: Micros) -> RadioStatus {
        let (health, health_detail) = self.health();
        RadioStatus {
            driver_up: self.driver_up,
            driver_detail: self.driver_detail.clone(),
            health,
            health_detail,
            serial_open: self.serial_open,
            neighbours: self.neighbours.rows(now),
            radio: self.radio,
            band: self.band.clone(),
            budget_us: self.queue.budget_us(),
            used_us: self.queue.used_us(now),
            queued_frames: self.queue.len() + usize::from(self.in_flight.is_some()),
            queued_bytes: self.queue.queued_bytes(),
            reassembling: self.reassembler.waiting(),
            relays_waiting: self.relays.waiting(),
            tx: self.queue.counters,
            reassembly: self.reassembler.counters,
            counters: self.counters,
            last_swap_stall_us: self.last_swap_stall_us,
            max_swap_stall_us: self.max_swap_stall_us,
        }
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
    pub fn driver_actions(&mut self, actions: Vec<Action>, now: Micros, out: &mut Vec<RadioOutput>) {
        for action in actions {
            match action {
                Action::SerialWrite(write) => out.push(RadioOutput::Serial(write.bytes)),
                Action::FrameReceived(frame) => {
                    self.counters.frames_in += 1;
                    self.counters.bytes_in += frame.frame.len() as u64;
                    self.counters.last_rssi_dbm = frame.rssi_dbm.or(self.counters.last_rssi_dbm);
                    self.counters.last_snr_db = frame.snr_db.or(self.counters.last_snr_db);
                    let signal = Signal { rssi_dbm: frame.rssi_dbm, snr_db: frame.snr_db };
                    self.frame_in(&frame.frame, signal, now, out);
                }
                Action::TransmitDone(done) => self.transmit_done(done.id, done.ok, now, out),
                Action::LinkState(state) => self.link_state(state.up, state.detail, now),
                Action::RadioInfo(info) => self.radio_info(info),
                Action::SetTimer(timer) => {
                    self.timers.insert(timer.id, now.after_us(timer.after_ms.saturating_mul(1000)));
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
        self.pump(now, out);
    }

    pub(super) fn link_state(&mut self, up: bool, detail: String, now: Micros) {
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
        if let Swap::Resyncing { since } = self.swap {
            let stall = now.us_since(since);
            self.last_swap_stall_us = Some(stall);
            self.max_swap_stall_us = self.max_swap_stall_us.max(stall);
            self.swap = Swap::Idle;
        }
        // (Re)announce ourselves soon, at a random moment (two radios brought
        // up together would otherwise talk over each other on every hello);
        // `poll` sends it and asks for an answer until a neighbour is heard.
        let window = HELLO_STARTUP_JITTER_US.min(self.settings.hello_interval_us / 2);
        self.next_hello = Some(now.after_us(self.rng.up_to(window)));
    }

    pub(super) fn radio_info(&mut self, info: RadioInfo) {
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

    /// Work due at `now`: driver timers, hellos, reassembly and neighbour
    /// timeouts, a swap that waited too long, frames the budget now allows.
    pub fn poll(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        while let Some((&id, &at)) = self.timers.iter().min_by_key(|(_, at)| **at) {
            if at > now {
                break;
            }
            self.timers.remove(&id);
            out.push(RadioOutput::Driver(Event::Timer(TimerFired { id })));
        }
        self.reassembler.expire(now);
        self.relays_due(now, out);
        if self.next_hello.is_some_and(|t| t <= now) {
            self.next_hello = Some(self.next_hello_after(now));
            if self.driver_up {
                self.queue_hello(!self.neighbours.any_usable(), now, out);
            }
        }
        if self.answer_at.is_some_and(|t| t <= now) {
            self.answer_at = None;
            if self.driver_up {
                self.queue_hello(false, now, out);
            }
        }
        for (neighbour, address) in self.neighbours.expire(now, self.settings.neighbour_timeout_us) {
            out.push(RadioOutput::NeighbourDown { neighbour, address });
        }
        if self.driver_up && self.neighbours.next_confirm().is_some_and(|t| t <= now) {
            self.send_confirms(now, out);
        }
        if let Swap::Draining { deadline } = self.swap
            && deadline <= now
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
            self.swap_progress(now, out);
        }
        self.pump(now, out);
    }

    /// The earliest time [`RadioLink::poll`] has work.
    pub fn next_deadline(&self) -> Option<Micros> {
        let swap = match self.swap {
            Swap::Draining { deadline } => Some(deadline),
            _ => None,
        };
        let retry = self.retry_at.filter(|_| self.driver_up && self.in_flight.is_none());
        [
            self.timers.values().min().copied(),
            self.reassembler.next_deadline(),
            self.next_hello,
            self.answer_at,
            self.relays.next_due(),
            self.neighbours.next_confirm().filter(|_| self.driver_up),
            self.neighbours.next_timeout(self.settings.neighbour_timeout_us),
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
    pub fn begin_swap(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        self.swap = Swap::Draining { deadline: now.after_us(self.settings.swap_wait_us) };
        self.swap_progress(now, out);
    }

    pub(super) fn swap_progress(&mut self, now: Micros, out: &mut Vec<RadioOutput>) {
        if matches!(self.swap, Swap::Draining { .. }) && self.in_flight.is_none() {
            self.swap = Swap::Resyncing { since: now };
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

    /// The driver faulted: its instance is gone, and with it its timers and
    /// whatever it was doing. The transmit it held may or may not have gone
    /// out, so it is queued again (a duplicate beats a loss); the driver is
    /// down until the restarted (or swapped-in) one reports up. A swap that
    /// was waiting for that transmit can go ahead.
    pub fn driver_lost(&mut self, fault: &str, now: Micros, out: &mut Vec<RadioOutput>) {
        self.timers.clear();
        self.link_state(false, format!("driver failed: {fault}"), now);
        if let Some(flight) = self.in_flight.take() {
            self.counters.tx_failed += 1;
            self.queue.requeue_front(flight.frame, MaybeOnAir::Perhaps);
        }
        self.swap_progress(now, out);
    }

    /// Whether a swap is waiting for the outstanding transmit.
    pub fn swap_draining(&self) -> bool {
        matches!(self.swap, Swap::Draining { .. })
    }
}

fn percent_budget(percent: f64) -> u64 {
    (HOUR_US as f64 * percent.clamp(0.0, 100.0) / 100.0) as u64
}

/// What a driver with `mtu` reports for `params` (the inverse of
/// [`params_of`]).
pub fn info_of(params: &LoraParams, mtu: u16) -> RadioInfo {
    RadioInfo {
        mtu,
        frequency_hz: params.frequency_hz,
        bandwidth_hz: params.bandwidth_hz,
        spreading_factor: params.spreading_factor,
        coding_rate: params.coding_rate,
        preamble_symbols: params.preamble_symbols,
        tx_power_dbm: params.tx_power_dbm,
    }
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

/// Bytes of the frame whose time on air is a radio link's routing cost.
pub const COST_FRAME_BYTES: usize = 100;

/// A radio link's routing cost: milliseconds on air of a
/// [`COST_FRAME_BYTES`]-byte frame at `params` (at least 1; a QUIC link
/// costs 1). SF7 / 125 kHz comes to 175, SF12 / 125 kHz to 3,941, so two
/// SF7 hops cost less than one SF12 hop (docs/links.md, *Route cost*).
pub fn airtime_cost(params: &LoraParams) -> u32 {
    u32::try_from(params.time_on_air_us(COST_FRAME_BYTES).div_ceil(1_000)).unwrap_or(u32::MAX).max(1)
}
