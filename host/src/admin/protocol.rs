//! The admin socket protocol: one JSON request per line, one JSON response
//! per line. Shared by the server in the node and by `weft ctl`.

use crate::link::connection::Direction;
use crate::link::counters::CounterSnapshot;
use crate::link::dialer::PeerSource;
use crate::node::core::CoreCounters;
use crate::routing::pending::HoldCounters;
use crate::routing::{RouteRow, RouterCounters, Sent};
use serde::{Deserialize, Serialize};
use weft_plugin_api::Address;

/// Longest request or response line accepted.
pub const MAX_LINE: usize = 1 << 20;

/// What `weft ctl` asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Node summary.
    Status,
    /// Neighbours, links and dial state.
    Peers,
    /// Send a message to a service port on a neighbour (or on this node),
    /// as the node itself rather than as a plugin.
    Send {
        /// Destination node.
        to: Address,
        /// Destination service port.
        port: u16,
        /// Payload text.
        payload: String,
    },
    /// Send several messages to one service port, in order, in one request
    /// (bulk sends from scripts: one round trip to the node instead of one
    /// per message). Stops at the first message that cannot go (a congested
    /// link, no route and nowhere to hold it); the answer says how many went.
    SendMany {
        /// Destination node.
        to: Address,
        /// Destination service port.
        port: u16,
        /// Payload texts, sent in this order.
        payloads: Vec<String>,
    },
    /// The routing table.
    Routes,
    /// Trace the path to a node (asking the mesh for one first, if needed).
    Trace {
        /// The node.
        to: Address,
        /// How long to wait for the answer.
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Invoke a plugin command.
    Call {
        /// Plugin name.
        plugin: String,
        /// Command name.
        command: String,
        /// JSON arguments (text; empty for none).
        #[serde(default)]
        args: String,
        /// How long to wait for the plugin's answer.
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Radio links: driver, neighbour, airtime, duty-cycle budget, queue.
    Links,
    /// Loaded plugins with state, restarts, memory and event rate.
    Plugins,
    /// Load a plugin file while the node runs.
    PluginLoad {
        /// Plugin file (absolute).
        file: String,
        /// The instance name (default: the manifest's name).
        #[serde(default)]
        name: Option<String>,
        /// Its config as JSON text (empty for none).
        #[serde(default)]
        config: String,
        /// Permissions granted.
        #[serde(default)]
        permissions: Vec<String>,
    },
    /// Stop a plugin (shutdown hook, state persisted) and remove it.
    PluginUnload {
        /// Plugin name.
        name: String,
    },
    /// Hot-swap a plugin to a new build (or the same file again), handing
    /// over its state; a new build that fails to start is rolled back.
    PluginReload {
        /// Plugin name.
        name: String,
        /// The new file (default: the one it was loaded from).
        #[serde(default)]
        file: Option<String>,
    },
    /// Stop a plugin (shutdown hook, state persisted), keeping it listed.
    PluginStop {
        /// Plugin name.
        name: String,
    },
    /// Stop the node gracefully, as SIGTERM does.
    Drain,
    /// Re-read the config file and apply the difference in plugins.
    Reload,
    /// The Prometheus text exposition (what `/metrics` serves).
    Metrics,
    /// Hot-swap a radio link's driver plugin.
    SwapDriver {
        /// Radio link name.
        link: String,
        /// The new driver plugin file (absolute, or relative to the node's
        /// working directory).
        file: String,
    },
    /// Invoke a radio driver's command.
    LinkCall {
        /// Radio link name.
        link: String,
        /// Command name.
        command: String,
        /// JSON arguments (text; empty for none).
        #[serde(default)]
        args: String,
    },
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request succeeded.
    pub ok: bool,
    /// The result (for `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The error (when not `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    /// A successful response carrying `value`.
    pub fn success(value: &impl Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(v) => Self { ok: true, result: Some(v), error: None },
            Err(e) => Self::failure(format!("cannot encode the result: {e}")),
        }
    }

    /// A failed response.
    pub fn failure(error: impl Into<String>) -> Self {
        Self { ok: false, result: None, error: Some(error.into()) }
    }
}

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
    pub sessions: crate::session::SessionCounters,
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
}

impl From<Sent> for SendOutcome {
    fn from(sent: Sent) -> Self {
        match sent {
            Sent::Transmitted(_) => SendOutcome::Sent,
            Sent::Local => SendOutcome::Delivered,
            Sent::Held | Sent::Queued => SendOutcome::Held,
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
    /// `running` or `failed: ...`.
    pub state: String,
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

/// One neighbour in `peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerRow {
    /// The neighbour's address.
    pub node: Address,
    /// `up`, or `down` for a known but unconnected neighbour.
    pub state: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_json_form() {
        let call = Request::Call { plugin: "echo".into(), command: "ping".into(), args: "{}".into(), timeout_ms: None };
        let text = serde_json::to_string(&call).unwrap();
        assert_eq!(text, r#"{"op":"call","plugin":"echo","command":"ping","args":"{}","timeout_ms":null}"#);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"call","plugin":"p","command":"c"}"#).unwrap(),
            Request::Call { plugin: "p".into(), command: "c".into(), args: String::new(), timeout_ms: None }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"reboot"}"#).is_err());
    }
}
