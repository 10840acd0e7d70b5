//! The rows and outcomes a node answers with: what `status`, `peers`,
//! `plugins`, `links`, `send`, `trace`, `call`, loads, reloads and swaps
//! report. Plain data with a stable JSON form (`weft ctl --json` prints it).

pub use super::plugin_state::PluginState;
use crate::link::connection::Direction;
use crate::link::counters::CounterSnapshot;
use crate::link::dialer::PeerSource;
use serde::{Deserialize, Serialize};
use weft_core::node::CoreCounters;
use weft_core::routing::pending::HoldCounters;
use weft_core::routing::{RouteRow, RouterCounters, Sent};
use weft_plugin_api::Address;

/// `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Node name.
    pub name: String,
    /// Node address.
    pub address: Address,
    /// Seconds since start.
    pub uptime_s: u64,
    /// QUIC listen address.
    pub listen: String,
    /// Links up.
    pub links_up: usize,
    /// Connections others dialed that were refused (`quic.max_inbound` open).
    #[serde(default)]
    pub links_refused: u64,
    /// Nodes known (with or without a route), at most `routing.max_nodes`.
    #[serde(default)]
    pub nodes_known: usize,
    /// Static peers configured.
    pub peers_configured: usize,
    /// Loaded plugins.
    pub plugins: Vec<PluginRow>,
    /// Message counters.
    pub counters: CoreCounters,
    /// Nodes with a usable route.
    pub routes: usize,
    /// Packets held for unreachable nodes.
    pub held: usize,
    /// Router counters.
    pub routing: RouterCounters,
    /// End-to-end session counters.
    #[serde(default)]
    pub sessions: weft_core::session::SessionCounters,
    /// Store-and-forward counters.
    pub hold: HoldCounters,
}

/// What became of `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendOutcome {
    /// On its way over a link.
    Sent,
    /// Delivered on this node.
    Delivered,
    /// No path yet: held until one appears.
    Held,
    /// Not sent: nothing can be sealed to the destination's key (counted lost).
    Lost,
    /// Not sent: the session to the destination has no room (send again later).
    Congested,
}

impl From<Sent> for SendOutcome {
    fn from(sent: Sent) -> Self {
        match sent {
            Sent::Transmitted(_) => SendOutcome::Sent,
            Sent::Local => SendOutcome::Delivered,
            Sent::Held | Sent::Queued => SendOutcome::Held,
            Sent::Lost => SendOutcome::Lost,
            Sent::Congested => SendOutcome::Congested,
        }
    }
}

/// What became of `send_many`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendManyOutcome {
    /// Messages accepted (sent, delivered or held), from the first: the
    /// rest were not sent and may be offered again.
    pub accepted: u64,
    /// Why the message after the accepted ones was refused (`None` when all were accepted).
    pub stopped: Option<String>,
}

/// The answer to `trace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceReport {
    /// The node traced.
    pub destination: Address,
    /// Every node after this one, the destination last.
    pub path: Vec<Address>,
    /// Round trip of the probe, microseconds (including any path request).
    pub rtt_us: u64,
    /// The table's route to the destination.
    pub route: Option<RouteRow>,
}

/// One plugin in `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginRow {
    /// Manifest name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// `wasm` or `native (trusted)`.
    pub binding: String,
    /// Running, restarting after a fault, or stopped.
    pub state: PluginState,
    /// Service ports bound.
    pub ports: Vec<u16>,
    /// Commands offered.
    pub commands: Vec<CommandRow>,
    /// Events delivered.
    pub events: u64,
    /// The plugin file.
    #[serde(default)]
    pub file: String,
    /// Restarts after faults.
    #[serde(default)]
    pub restarts: u32,
    /// Faults (traps, deadlines, out of memory, panics, failed hooks).
    #[serde(default)]
    pub faults: u64,
    /// The last fault, as logged (a panic with its message and location),
    /// kept after the plugin restarted.
    #[serde(default)]
    pub last_fault: Option<String>,
    /// Events dropped (stopped, or backlog full while restarting).
    #[serde(default)]
    pub dropped: u64,
    /// Events waiting for a restart.
    #[serde(default)]
    pub backlog: usize,
    /// Linear memory of a wasm instance, bytes.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// Events per second since the previous look.
    #[serde(default)]
    pub events_per_s: f64,
    /// Actions returned.
    #[serde(default)]
    pub actions: u64,
    /// Actions refused (not permitted, over quota, link unavailable).
    #[serde(default)]
    pub refused: u64,
    /// What the plugin reported with `ctx.count` / `ctx.gauge`.
    #[serde(default)]
    pub metrics: crate::plugin::metrics::PluginMetrics,
}

/// A plugin command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRow {
    /// Name.
    pub name: String,
    /// One-line help.
    pub help: String,
}

/// Whether a neighbour's link is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    /// Connected.
    Up,
    /// Known (configured or discovered) but not connected.
    Down,
}

impl std::fmt::Display for PeerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PeerState::Up => "up",
            PeerState::Down => "down",
        })
    }
}

/// One neighbour in `peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerRow {
    /// The neighbour's address.
    pub node: Address,
    /// Up, or down for a known but unconnected neighbour.
    pub state: PeerState,
    /// Static or discovered, when we dial it.
    pub source: Option<PeerSource>,
    /// Socket address of the live link.
    pub remote: Option<String>,
    /// Who dialed the live link.
    pub direction: Option<Direction>,
    /// Seconds the link has been up.
    pub up_s: Option<u64>,
    /// Round-trip time in microseconds.
    pub rtt_us: Option<u64>,
    /// Our address as this neighbour sees it (reflexive address).
    pub seen_as: Option<String>,
    /// Link counters.
    pub counters: Option<CounterSnapshot>,
    /// Failed dial attempts since the last success.
    pub failures: u32,
    /// The last dial error.
    pub last_error: Option<String>,
}

/// The answer to `call`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    /// Whether the plugin reported success.
    pub ok: bool,
    /// The plugin's answer text.
    pub body: String,
}

/// A completed driver swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapReport {
    /// The link.
    pub link: String,
    /// Driver before: name and version.
    pub from: String,
    /// Driver now: name and version.
    pub to: String,
    /// Bytes of state handed over.
    pub state_bytes: usize,
}

/// A row of `weft ctl links`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RadioRow {
    /// Link name.
    pub name: String,
    /// Serial device.
    pub device: String,
    /// Driver: name, version, binding.
    pub driver: String,
    /// Driver file.
    pub driver_file: String,
    /// The driver's last fault while it is not running (the link is down
    /// until the driver restarts or is swapped).
    pub driver_failure: Option<String>,
    /// Times the driver was restarted after a fault.
    pub driver_restarts: u32,
    /// The link's state and counters.
    #[serde(flatten)]
    pub status: weft_core::radio::link::RadioStatus,
    /// What the driver reported (`ctx.count`, `ctx.gauge`).
    pub driver_metrics: crate::plugin::metrics::PluginMetrics,
}

/// What a completed plugin hot swap did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// Plugin name.
    pub plugin: String,
    /// Version before.
    pub from: String,
    /// Version now.
    pub to: String,
    /// Bytes of state handed over.
    pub state_bytes: usize,
    /// Time the plugin did not take events: old hook + new init, µs.
    pub pause_us: u64,
    /// Of which the old instance's shutdown hook, µs.
    pub hook_us: u64,
}

/// The outcome of `weft ctl plugin load`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadOutcome {
    /// The instance name.
    pub plugin: String,
    /// The ports it serves.
    pub ports: Vec<u16>,
}

/// The outcome of `weft ctl plugin stop` and `unload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopOutcome {
    /// The plugin.
    pub plugin: String,
    /// Its shutdown hook ran (always true in an answer).
    pub stopped: bool,
    /// It was also removed (`unload`).
    pub removed: bool,
}

/// The outcome of `weft ctl reload`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadSummary {
    /// Plugins loaded.
    pub added: Vec<String>,
    /// Plugins stopped and removed.
    pub removed: Vec<String>,
    /// Plugins hot-swapped.
    pub reloaded: Vec<String>,
    /// Plugins left as they were.
    pub unchanged: usize,
    /// Radio links whose driver (file or `driver_config`) is being swapped.
    pub drivers_swapping: Vec<String>,
    /// Sections that changed but need a restart to apply.
    pub not_applied: Vec<String>,
}
