//! The tokio runtime of a node: one actor task owns the core, the plugins and
//! the link table, and everything else talks to it through channels.
//! Plugin calls happen on the actor, one at a time, so plugins need no locks.
//!
//! Its files, one idea each, all `impl Actor`:
//!
//! - this one: the actor's state and the handles a started node returns.
//! - `boot`: starting a node from a [`NodeConfig`] (store, plugins,
//!   endpoint, admin socket, dialers, discovery).
//! - `event_loop`: the loop (link events, requests, serial bytes, timers,
//!   background results) and a clean stop.
//! - `work`: the one work queue every input's consequences run through
//!   (core outputs and radio notes alike, one step limit, no recursion).
//! - `answers`: requests answered from the node's state or sent through it
//!   (queries, sends, traces, commands).
//! - `lifecycle`: plugins and drivers loaded, swapped and stopped; config
//!   reloads.
//! - `holds`: held-packet changes committed in one transaction per input.
//! - `bulk`: a send of many payloads, a slice per turn of the loop.

mod answers;
mod boot;
mod bulk;
mod event_loop;
mod holds;
mod lifecycle;
mod work;

pub use boot::start;

use super::plugin_host::{PluginHost, PluginStartError};
use super::radio_host::{RadioHost, RadioStartError};
use crate::admin::server as admin_server;
use crate::config::NodeConfig;
use crate::control::{NodeHandle, ReplyTo};
use crate::kv::KvStore;
use crate::link::LinkEvent;
use crate::link::dialer::DialBook;
use crate::link::endpoint;
use crate::link::table::LinkTable;
use crate::plugin::{HostServices, PluginRuntime};
use crate::serial::SerialEvent;
use crate::store::Store;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};
use weft_core::crypto::NodeIdentity;
use weft_core::node::{NodeCore, PluginId};
use weft_core::time::{Micros, Millis};
use weft_plugin_api::Address;

/// Storage namespace of the node's own routing state (plugin names cannot
/// contain `:`).
const ROUTING_NAMESPACE: &str = "weft:routing";
const ANNOUNCES_KEY: &[u8] = b"announces";
/// Prefix of the per-node announce records written as keys are learned
/// (`announce/` + the 16-byte address); the periodic blob above refreshes
/// sequences, these make a crash right after a first contact survivable.
const ANNOUNCE_RECORD_PREFIX: &[u8] = b"announce/";

/// Plugin and driver calls one input may cause; past it, further calls of
/// that input are skipped (a plugin messaging itself forever, or a driver
/// answering every event with a 0 ms timer, must not stall the node). The
/// rest of its work still runs: without calls it cannot grow.
const MAX_CALLS_PER_INPUT: usize = 10_000;

/// Inputs of one kind handled per wake-up of the actor before it looks at
/// the others again (bounded so links, requests and timers all get turns).
const BURST: usize = 64;

/// How long one turn of the loop may spend on link events before the other
/// inputs get their chance: a neighbour that floods the node cannot keep an
/// operator's `status` (or another neighbour) waiting longer than this.
const TURN_BUDGET: std::time::Duration = std::time::Duration::from_millis(5);

/// The node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Config problem (names file and key).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A plugin could not be loaded or initialised.
    #[error(transparent)]
    Plugin(#[from] PluginStartError),
    /// A radio link could not start.
    #[error(transparent)]
    Radio(#[from] RadioStartError),
    /// Two plugins bind the same port.
    #[error("{0}")]
    Ports(String),
    /// The QUIC endpoint could not be created.
    #[error("{file}: key `quic.listen`: {source}")]
    Endpoint {
        /// Config file.
        file: String,
        /// Why.
        source: endpoint::EndpointError,
    },
    /// The admin socket could not be opened.
    #[error(transparent)]
    Admin(#[from] admin_server::AdminError),
    /// The metrics endpoint could not listen.
    #[error("{file}: key `metrics.listen`: {message}")]
    Metrics {
        /// Config file.
        file: String,
        /// Why.
        message: String,
    },
    /// Discovery could not start.
    #[error("{file}: key `discovery`: {message}")]
    Discovery {
        /// Config file.
        file: String,
        /// Why.
        message: String,
    },
}

/// What the router is told about every QUIC link (`[routing]`).
#[derive(Debug, Clone, Copy)]
struct QuicLinkParams {
    /// Routing cost of one QUIC hop.
    cost: u32,
    /// Nominal bit rate, for the announce budget.
    bandwidth_bps: u64,
}

/// A command waiting for its plugin's answer: which plugin, and who waits.
type PendingCommand = (PluginId, ReplyTo);

/// A node that is running; stop it with [`RunningNode::stop`].
pub struct RunningNode {
    /// Handle for requests.
    pub handle: NodeHandle,
    /// The node's address.
    pub address: Address,
    /// The bound QUIC address (useful with port 0).
    pub listen: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    finished: bool,
}

impl RunningNode {
    /// Runs the plugins' shutdown hooks, closes links and waits for the actor.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if !self.finished {
            let _ = (&mut self.task).await;
        }
    }

    /// Resolves when the node stopped by itself (`weft ctl drain`).
    pub async fn finished(&mut self) {
        if !self.finished {
            let _ = (&mut self.task).await;
            self.finished = true;
        }
    }
}

struct Actor {
    name: String,
    address: Address,
    listen: SocketAddr,
    admin_socket: std::path::PathBuf,
    peers_configured: usize,
    started: Instant,
    core: NodeCore,
    plugins: PluginHost,
    kv: Arc<dyn KvStore>,
    store: Arc<Store>,
    services: Arc<HostServices>,
    /// What the router is told about every QUIC link.
    quic_link: QuicLinkParams,
    traces: HashMap<u64, (ReplyTo, Instant, Address)>,
    next_trace: u64,
    links: LinkTable,
    connected: watch::Sender<HashSet<Address>>,
    book: Arc<DialBook>,
    pending: HashMap<u64, PendingCommand>,
    next_command: u64,
    /// The work queue (see `work`), its buffer kept between inputs.
    work: work::Queue,
    /// Loads plugins after start (reloads, driver swaps), off the actor.
    runtime: Arc<PluginRuntime>,
    /// Where work done off the actor reports back.
    background: mpsc::Sender<lifecycle::Background>,
    /// The config the node runs (replaced by a successful reload).
    config: NodeConfig,
    /// Radio links.
    radios: RadioHost,
    /// Driver swaps in progress, by radio link index, with the operator
    /// waiting for the answer (none for a swap a config reload started).
    swaps: HashMap<usize, Option<ReplyTo>>,
    /// Driver commands waiting for an answer, by command id.
    link_commands: HashMap<u64, (usize, ReplyTo)>,
    /// Plugin loads, reloads and config reloads waiting for their files.
    lifecycle: lifecycle::Waiting,
    /// `weft ctl drain` asked the node to stop.
    draining: bool,
    /// Prometheus families.
    metrics: crate::metrics::NodeMetrics,
    /// Storage used per plugin, for quotas.
    quotas: super::quota::QuotaBook,
    /// When the routing state is next written to the store (node ms).
    next_routing_persist: Millis,
    /// Held-packet changes not committed yet (see `holds`).
    holds: holds::HoldBatch,
    /// Bulk sends in progress (see `bulk`).
    bulk: std::collections::VecDeque<bulk::BulkSend>,
    /// Connections others dialed: open and refused.
    inbound: Arc<crate::link::listener::Inbound>,
    /// Announce records to write with this input's batch (see `work`).
    announce_records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Everything the actor listens to.
struct Inputs {
    link_events: mpsc::Receiver<LinkEvent>,
    serial: mpsc::Receiver<(usize, SerialEvent)>,
    background: mpsc::Receiver<lifecycle::Background>,
    requests: mpsc::Receiver<(crate::control::Request, ReplyTo)>,
    shutdown: watch::Receiver<bool>,
}

impl Actor {
    fn now(&self) -> Millis {
        Millis::from_ms(self.started.elapsed().as_millis() as u64)
    }

    fn now_micros(&self) -> Micros {
        Micros::from_us(self.started.elapsed().as_micros() as u64)
    }

    /// Writes every known node's announce (keys and sequences) to the
    /// store: at a clean stop and every `routing.persist_interval_s`, so a
    /// crash loses at most one interval of it.
    fn persist_routing(&self, why: &str) {
        let announces = self.core.router().export_announces();
        match self.kv.commit(ROUTING_NAMESPACE, &[(ANNOUNCES_KEY.to_vec(), Some(announces))]) {
            Ok(()) if why == "periodic" => tracing::debug!("routing state persisted ({why})"),
            Ok(()) => tracing::info!("routing state persisted ({why})"),
            Err(e) => tracing::error!("could not persist the routing state ({why}): {e}"),
        }
    }

    /// The next time the core, a plugin restart or a radio link has work.
    fn next_deadline(&self) -> Option<Micros> {
        let core = self.core.next_deadline().map(Millis::to_micros);
        let restarts = self.plugins.next_deadline().map(Millis::to_micros);
        [core, restarts, self.radios.next_deadline()].into_iter().flatten().min()
    }
}

/// Lets the runtime keep a second copy of the identity (one for plugins'
/// host calls, one for TLS) without making keys `Clone` everywhere.
trait Duplicate {
    fn duplicate(&self) -> Self;
}

impl Duplicate for NodeIdentity {
    fn duplicate(&self) -> Self {
        NodeIdentity::from_secret(self.secret_seed())
    }
}
