//! The TOML schema, exactly as operators write it. Every table refuses
//! unknown keys, so a typo is an error instead of a silently ignored setting.
//! Defaults live here, next to the fields they belong to.

use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use weft_plugin_api::{Address, Permission};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[node]`: who this node is and where it keeps its files.
    pub node: NodeSection,
    /// `[quic]`: the IP link.
    #[serde(default)]
    pub quic: QuicSection,
    /// `[[peers]]`: neighbours to dial.
    #[serde(default)]
    pub peers: Vec<PeerEntry>,
    /// `[discovery]`: finding neighbours on the LAN.
    #[serde(default)]
    pub discovery: DiscoverySection,
    /// `[admin]`: the local control socket.
    #[serde(default)]
    pub admin: AdminSection,
    /// `[metrics]`: the Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsSection,
    /// `[routing]`: announces, path discovery, store-and-forward.
    #[serde(default)]
    pub routing: RoutingSection,
    /// `[[plugins]]`: what the node loads.
    #[serde(default)]
    pub plugins: Vec<PluginEntry>,
    /// `[trust]`: signed plugins.
    #[serde(default)]
    pub trust: TrustSection,
    /// `[[radios]]`: LoRa links through serial modems.
    #[serde(default)]
    pub radios: Vec<RadioEntry>,
}

/// `[routing]`: announces, path discovery and store-and-forward.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSection {
    /// Hop limit of packets this node originates (1 to 64; read wide so an
    /// out-of-range value gets the range, not "expected u8").
    pub max_hops: u64,
    /// How often the node announces itself, seconds.
    pub announce_interval_s: u64,
    /// How long a route lives without a fresh announce, seconds.
    pub route_ttl_s: u64,
    /// Largest random delay before rebroadcasting an announce, ms.
    pub rebroadcast_delay_ms: u64,
    /// Share of a link's bandwidth announces may use (0 < share <= 1).
    pub announce_share: f64,
    /// First path request retry interval, ms (doubles up to a minute).
    pub path_request_interval_ms: u64,
    /// How long held packets wait for a path, seconds.
    pub hold_ttl_s: u64,
    /// Held packets per destination.
    pub hold_per_destination: usize,
    /// Held packets per neighbour that handed them over.
    pub hold_per_source: usize,
    /// Held packets in total.
    pub hold_total: usize,
    /// Cost of a QUIC link (routes of equal hops prefer cheaper links).
    pub quic_link_cost: u32,
    /// Bandwidth assumed for a QUIC link, bits/s (sizes the announce budget).
    pub quic_link_bandwidth_bps: u64,
    /// How often the routing state (known nodes' keys and sequences) is
    /// written to the store while the node runs, seconds (also at a clean
    /// stop), so a crash loses at most this much of it.
    pub persist_interval_s: u64,
    /// Nodes the routing table knows at most; past it the node without a
    /// route heard from longest ago makes room, or the newcomer is refused.
    pub max_nodes: usize,
    /// Destinations searched for at once.
    pub max_searches: usize,
    /// Path requests for one destination before its search gives up.
    pub path_request_tries: u32,
    /// Announces per second one link may make this node verify.
    pub announces_per_link_per_s: f64,
    /// Path requests per second one link may make this node handle.
    pub path_requests_per_link_per_s: f64,
    /// Packets per second for unknown destinations one link may make this node hold.
    pub unknown_per_link_per_s: f64,
    /// New announces per minute accepted from one origin.
    pub announces_per_origin_per_min: f64,
    /// Path requests per second this node sends, all searches together.
    pub path_requests_out_per_s: f64,
}

impl RoutingSection {
    /// The router's settings.
    pub fn router_config(&self) -> weft_core::routing::RouterConfig {
        weft_core::routing::RouterConfig {
            max_hops: u8::try_from(self.max_hops).unwrap_or(u8::MAX),
            announce_interval_ms: self.announce_interval_s.saturating_mul(1000),
            route_ttl_ms: self.route_ttl_s.saturating_mul(1000),
            rebroadcast_delay_ms: self.rebroadcast_delay_ms,
            announce_share: self.announce_share,
            path_request_interval_ms: self.path_request_interval_ms,
            hold: weft_core::routing::pending::HoldLimits {
                ttl_ms: self.hold_ttl_s.saturating_mul(1000),
                per_destination: self.hold_per_destination,
                per_source: self.hold_per_source,
                total: self.hold_total,
            },
            limits: weft_core::routing::limits::RouterLimits {
                max_nodes: self.max_nodes,
                max_searches: self.max_searches,
                path_request_tries: self.path_request_tries,
                announces_per_link_per_s: self.announces_per_link_per_s,
                path_requests_per_link_per_s: self.path_requests_per_link_per_s,
                unknown_per_link_per_s: self.unknown_per_link_per_s,
                announces_per_origin_per_min: self.announces_per_origin_per_min,
                path_requests_out_per_s: self.path_requests_out_per_s,
            },
            ..weft_core::routing::RouterConfig::default()
        }
    }
}

impl Default for RoutingSection {
    fn default() -> Self {
        let limits = weft_core::routing::limits::RouterLimits::default();
        Self {
            max_hops: 32,
            announce_interval_s: 600,
            route_ttl_s: 2100,
            rebroadcast_delay_ms: 50,
            announce_share: 0.02,
            path_request_interval_ms: 1000,
            hold_ttl_s: 24 * 3600,
            hold_per_destination: 256,
            hold_per_source: 2048,
            hold_total: 8192,
            quic_link_cost: 1,
            quic_link_bandwidth_bps: 10_000_000,
            persist_interval_s: 300,
            max_nodes: limits.max_nodes,
            max_searches: limits.max_searches,
            path_request_tries: limits.path_request_tries,
            announces_per_link_per_s: limits.announces_per_link_per_s,
            path_requests_per_link_per_s: limits.path_requests_per_link_per_s,
            unknown_per_link_per_s: limits.unknown_per_link_per_s,
            announces_per_origin_per_min: limits.announces_per_origin_per_min,
            path_requests_out_per_s: limits.path_requests_out_per_s,
        }
    }
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// A name for logs and `weft ctl status`.
    pub name: String,
    /// The key file written by `weft keygen` (relative to the config file).
    pub identity: PathBuf,
    /// Where the node keeps its store and caches (relative to the config file).
    pub data_dir: PathBuf,
    /// Compiled wasm module cache (default `<data_dir>/module-cache`); nodes
    /// on one machine may share one.
    pub module_cache: Option<PathBuf>,
    /// Time each plugin's shutdown hook gets when the node stops, a plugin
    /// is stopped or unloaded, or handed over in a reload, ms.
    #[serde(default = "default_shutdown_deadline")]
    pub shutdown_deadline_ms: u64,
}

fn default_shutdown_deadline() -> u64 {
    2_000
}

/// `[quic]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuicSection {
    /// UDP address to listen on.
    #[serde(deserialize_with = "socket_address")]
    pub listen: SocketAddr,
    /// Keepalive interval; also how fast a restarted peer is noticed.
    pub keepalive_ms: u64,
    /// A link with no traffic for this long is closed.
    pub idle_timeout_ms: u64,
    /// Largest frame accepted or sent on a link.
    pub max_frame_bytes: u32,
    /// First reconnect delay.
    pub reconnect_min_ms: u64,
    /// Reconnect delay cap.
    pub reconnect_max_ms: u64,
    /// Links dialed by others kept at once; past it new ones are refused
    /// (counted in `weft ctl status` as `links_refused`).
    pub max_inbound: usize,
}

impl Default for QuicSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 4433)),
            keepalive_ms: 2_000,
            idle_timeout_ms: 10_000,
            max_frame_bytes: 64 * 1024,
            reconnect_min_ms: 250,
            reconnect_max_ms: 30_000,
            max_inbound: 256,
        }
    }
}

/// One `[[peers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// `host:port` of the peer's QUIC listener.
    pub address: String,
    /// The node address the peer's key must hash to.
    pub node: Address,
}

/// `[discovery]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoverySection {
    /// Off unless asked for: beacons make no sense on the public internet.
    pub enabled: bool,
    /// IPv4 multicast group and port for beacons.
    pub group: SocketAddrV4,
    /// Interface address to send and join on (`0.0.0.0`: the default route's).
    pub interface: Ipv4Addr,
    /// How often to send a beacon.
    pub interval_ms: u64,
}

impl Default for DiscoverySection {
    fn default() -> Self {
        Self {
            enabled: false,
            group: SocketAddrV4::new(Ipv4Addr::new(239, 255, 87, 70), 4434),
            interface: Ipv4Addr::UNSPECIFIED,
            interval_ms: 2_000,
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Unix socket for `weft ctl` (default `<data_dir>/admin.sock`).
    pub socket: Option<PathBuf>,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Address for the Prometheus `/metrics` endpoint (none: disabled).
    #[serde(default, deserialize_with = "optional_socket_address")]
    pub listen: Option<SocketAddr>,
}

/// One `[[plugins]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// `.wasm` (sandboxed) or `.so` (native, trusted) file, relative to the config file.
    pub file: PathBuf,
    /// The instance's name on this node (default: its manifest's name). It
    /// keys the plugin's storage, persisted state, metrics, signing context
    /// and operator commands, so the operator, not the plugin, owns it.
    pub name: Option<String>,
    /// Permissions granted (the plugin's manifest may not ask for more).
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Service ports it may bind (default: those its manifest declares).
    pub ports: Option<Vec<u16>>,
    /// The plugin's own settings, handed to its `init` as CBOR.
    #[serde(default)]
    pub config: toml::Table,
    /// What happens when the plugin faults.
    #[serde(default)]
    pub restart: RestartMode,
    /// First restart delay, ms (doubles per consecutive fault).
    #[serde(default = "default_backoff_ms")]
    pub restart_backoff_ms: u64,
    /// Restart delay cap, ms.
    #[serde(default = "default_backoff_max_ms")]
    pub restart_backoff_max_ms: u64,
    /// Running this long without a fault resets the delay, seconds.
    #[serde(default = "default_healthy_after_s")]
    pub healthy_after_s: u64,
    /// Events held for the plugin while it restarts; beyond this they are
    /// dropped (counted).
    #[serde(default = "default_backlog")]
    pub backlog_events: usize,
    /// Largest hop limit the plugin's floods may ask for (default: any).
    pub max_flood_hops: Option<u8>,
    /// Bytes (keys plus values) the plugin may keep in storage (default: no limit).
    pub storage_quota_bytes: Option<u64>,
    /// Native plugins only: `thread` (default: each instance's calls on a
    /// thread of its own, abandoned at their deadline) or `inline` (on the
    /// node's thread: ~1 µs less per call, and a call that never returns
    /// hangs the node).
    pub native_calls: Option<crate::plugin::NativeCalls>,
}

/// What happens when a plugin faults (trap, deadline, out of memory, panic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartMode {
    /// Start it again after a growing delay (Envoy's FAIL_RELOAD).
    #[default]
    Reload,
    /// Leave it stopped until an operator acts.
    Stop,
}

fn default_backoff_ms() -> u64 {
    100
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_healthy_after_s() -> u64 {
    60
}
fn default_backlog() -> usize {
    1024
}

/// `[trust]`: which plugin files the node accepts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    /// Refuse plugins (services and drivers) without a valid signature from
    /// one of `publishers`.
    #[serde(default)]
    pub require_signed: bool,
    /// Trusted publisher keys: Ed25519 public keys, 64 hexadecimal digits
    /// (`weft plugin sign` prints the key it signed with).
    #[serde(default)]
    pub publishers: Vec<String>,
}

/// One `[[radios]]` entry: a LoRa link through a serial modem.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioEntry {
    /// The link's name (`weft ctl links`, `weft ctl link swap-driver NAME`).
    pub name: String,
    /// Serial device path (`/dev/ttyUSB0`, a pseudo-terminal, ...).
    pub device: PathBuf,
    /// Serial speed.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// The driver plugin (`.wasm` by default; `.so` is trusted native code).
    pub driver: PathBuf,
    /// The driver's own settings (radio parameters, ...), handed to its `init`.
    #[serde(default)]
    pub driver_config: toml::Table,
    /// Only this neighbour may use the link (default: every node whose
    /// signed hello is heard).
    pub peer: Option<Address>,
    /// Neighbours up at once at most on this radio.
    #[serde(default = "default_max_neighbours")]
    pub max_neighbours: usize,
    /// How far a neighbour's first hello may be from this node's clock,
    /// seconds (older hellos played back are refused).
    #[serde(default = "default_hello_skew")]
    pub hello_max_clock_skew_s: u32,
    /// Duty cycle in percent (default: the EU868 sub-band's limit for the
    /// radio's frequency, none outside EU868).
    pub duty_cycle_percent: Option<f64>,
    /// Managed flooding: a relayed flood is dropped when this many copies
    /// (the first included) were heard while it waited; 0 relays every
    /// flood at once.
    #[serde(default = "default_flood_suppress_copies")]
    pub flood_suppress_copies: u32,
    /// Routing cost of the link; unset: its airtime (milliseconds on air of
    /// a 100-byte frame at the radio's settings).
    #[serde(default)]
    pub cost: Option<u32>,
    /// Bytes the transmit queue may hold.
    #[serde(default = "default_radio_queue")]
    pub queue_limit_bytes: usize,
    /// How often a hello goes out, seconds.
    #[serde(default = "default_hello_interval")]
    pub hello_interval_s: u64,
    /// A neighbour not heard for this long is gone, seconds.
    #[serde(default = "default_neighbour_timeout")]
    pub neighbour_timeout_s: u64,
    /// How long a packet's fragments may take to arrive, milliseconds.
    #[serde(default = "default_reassembly_timeout")]
    pub reassembly_timeout_ms: u64,
}

fn default_baud() -> u32 {
    115_200
}
fn default_radio_queue() -> usize {
    64 * 1024
}
fn default_hello_interval() -> u64 {
    120
}
fn default_neighbour_timeout() -> u64 {
    600
}
fn default_max_neighbours() -> usize {
    32
}
fn default_flood_suppress_copies() -> u32 {
    weft_core::radio::link::DEFAULT_FLOOD_SUPPRESS_COPIES
}
fn default_hello_skew() -> u32 {
    900
}
fn default_reassembly_timeout() -> u64 {
    30_000
}

/// `IP:PORT`, with an error that says so (serde's says only "invalid socket
/// address syntax", even for port 70000).
fn socket_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    parse_socket_address(&text).map_err(serde::de::Error::custom)
}

fn optional_socket_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    parse_socket_address(&text).map(Some).map_err(serde::de::Error::custom)
}

fn parse_socket_address(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        let port = text.rsplit_once(':').map(|(_, p)| p);
        match port.map(str::parse::<u64>) {
            Some(Ok(p)) if p > 65_535 => format!("port {p} is out of range: expected IP:PORT with PORT 0 to 65535"),
            _ => format!("expected IP:PORT (e.g. 0.0.0.0:4433 or [::]:4433) with PORT 0 to 65535, found {text:?}"),
        }
    })
}
