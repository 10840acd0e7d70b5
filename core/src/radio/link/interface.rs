//! What a radio link takes and gives: its settings, the outputs the runtime
//! executes, its counters, health and the status `weft ctl links` shows.
//! Plain data; no behaviour.

use super::super::fragment::{self, FragmentError};
use super::super::tx_queue::QueueError;
use super::super::tx_queue::TxCounters;
pub use super::neighbours::NeighbourRow;

use weft_plugin_api::actions::{CommandReply, Metric, RadioInfo};
use weft_plugin_api::{Address, Event, LogLevel};

/// Copies of a flood (the first included) a waiting relay needs heard
/// before it may be dropped, by default: 1, coverage alone decides (chosen
/// with `weft sim --radio`; see docs/BENCHMARKS.md).
pub const DEFAULT_FLOOD_SUPPRESS_COPIES: u32 = 1;

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
    /// Neighbours up at once at most (a further one is refused, counted).
    pub max_neighbours: usize,
    /// How far a first hello's time may lie from this node's clock, s (a
    /// hello recorded earlier and played back later is refused).
    pub hello_max_clock_skew_s: u32,
    /// How long a driver swap waits for the outstanding transmit, µs.
    pub swap_wait_us: u64,
    /// Managed flooding: a relayed flood is dropped when, by its moment,
    /// every neighbour has it (sent a copy, or is named in the hello of a
    /// node that sent one) and at least this many copies (the first
    /// included) were heard; 0 relays every flood at once (naive flooding).
    pub flood_suppress_copies: u32,
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
            max_neighbours: 32,
            hello_max_clock_skew_s: 900,
            swap_wait_us: 5_000_000,
            flood_suppress_copies: DEFAULT_FLOOD_SUPPRESS_COPIES,
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
    /// A packet from a neighbour, for the router.
    Packet {
        /// The neighbour's number on this radio.
        neighbour: u32,
        /// The packet.
        packet: Vec<u8>,
    },
    /// A neighbour's hello was verified and it confirmed it hears this
    /// node (a tagged frame): the router may use it.
    NeighbourUp {
        /// Its number on this radio.
        neighbour: u32,
        /// Its address.
        address: Address,
        /// The radio's nominal bit rate (sizes the announce budget).
        bandwidth_bps: u64,
        /// The link's routing cost from its airtime ([`super::airtime_cost`]).
        airtime_cost: u32,
    },
    /// A neighbour went quiet.
    NeighbourDown {
        /// Its number on this radio.
        neighbour: u32,
        /// Its address.
        address: Address,
    },
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
    /// Confirms sent ("I have your hello", tagged).
    pub confirms_out: u64,
    /// Hellos from a node other than the configured `peer`.
    pub foreign: u64,
    /// Hellos whose signature did not hold.
    pub hellos_forged: u64,
    /// Hellos not newer than one taken before from the same node.
    pub hellos_replayed: u64,
    /// First hellos whose time was too far from this node's clock.
    pub hellos_skewed: u64,
    /// Hellos not checked: more came in than the link verifies a second.
    pub hellos_rate_limited: u64,
    /// Verified nodes refused: the table was full, or their short id taken.
    pub neighbours_refused: u64,
    /// Frames from a sender that is not a verified neighbour (ignored).
    pub unverified: u64,
    /// Unicast frames whose tag did not hold (ignored).
    pub bad_tag: u64,
    /// Unicast frames for another node (ignored).
    pub overheard: u64,
    /// Frames that were neither packet, fragment nor hello.
    pub malformed: u64,
    /// Session messages sent on their last hop as compact frames.
    pub last_hop_out: u64,
    /// Compact session frames taken for this node (the router's sessions
    /// still judge them).
    pub last_hop_in: u64,
    /// Relayed floods queued after their wait (managed flooding).
    pub relays_sent: u64,
    /// Relayed floods dropped: every neighbour had them by their moment.
    pub relays_suppressed: u64,
    /// Queued relays taken back when their turn on air came: every
    /// neighbour had the flood by then (they are also in `relays_sent`).
    pub relays_withdrawn: u64,
    /// Queued relays taken back because they waited a minute or more for
    /// their turn (also in `relays_sent`).
    pub relays_stale: u64,
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
    /// Every neighbour heard, up or gone quiet.
    pub neighbours: Vec<NeighbourRow>,
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
    /// Relayed floods waiting for their moment (managed flooding).
    pub relays_waiting: usize,
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

/// Where a packet goes on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioDest {
    /// One neighbour, by its number on this radio (a tagged unicast frame).
    Neighbour(u32),
    /// Every node in range, once (a broadcast frame).
    Everyone,
}

impl RadioDest {
    /// Where a router's transmit on `link` goes: one neighbour for
    /// `LinkId::Radio`, everyone in range for a radio channel.
    pub fn of_link(link: crate::routing::LinkId) -> RadioDest {
        match link {
            crate::routing::LinkId::Radio { neighbour, .. } => RadioDest::Neighbour(neighbour),
            _ => RadioDest::Everyone,
        }
    }
}

/// Why a radio link refused a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendRefused {
    /// The driver has not reported the radio up yet.
    #[error("the radio link has not come up yet")]
    NotUp,
    /// No neighbour with this number is up on the radio.
    #[error("neighbour {0} is not up on this radio")]
    NoSuchNeighbour(u32),
    /// The packet cannot be cut into frames of the driver's MTU.
    #[error(transparent)]
    Fragment(#[from] FragmentError),
    /// The transmit queue cannot take it (full, or over the duty cycle).
    #[error(transparent)]
    Queue(#[from] QueueError),
}
