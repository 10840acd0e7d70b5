//! The tokio runtime of a node: one actor task owns the core, the plugins and
//! the link table, and everything else talks to it through channels.
//!
//! Owns: starting a node from a [`NodeConfig`] (store, plugins, endpoint,
//! admin socket, dialers, discovery), the actor loop (link events, admin
//! requests, timers), executing the core's outputs, and a clean stop.
//! Plugin calls happen on the actor, one at a time, so plugins need no locks.

mod lifecycle;

use super::core::{NodeCore, Output};
use super::plugin_host::{PluginHost, PluginStartError};
use super::radio_host::{RadioHost, RadioNote, RadioStartError, is_radio_link};
use crate::admin::protocol::{
    CallOutcome, PeerRow, Request, Response, SendManyOutcome, SendOutcome, Status, TraceReport,
};
use crate::admin::server as admin_server;
use crate::config::NodeConfig;
use crate::crypto::NodeIdentity;
use crate::discovery;
use crate::kv::KvStore;
use crate::link::dialer::{DialBook, DialContext, PeerSource, dial_loop};
use crate::link::endpoint::{self, LinkSettings};
use crate::link::table::{LinkTable, Offer};
use crate::link::{LinkEvent, connection::close_code, listener};
use crate::plugin::{HostServices, PluginRuntime};
use crate::radio::serial::SerialEvent;
use crate::routing::pending::HoldChange;
use crate::routing::{LinkParams, Router, Sent};
use crate::store::Store;
use ed25519_dalek::VerifyingKey;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use weft_plugin_api::{ActionRefused, Address, Command, Event, LogLevel};

/// Storage namespace of the node's own routing state (plugin names cannot
/// contain `:`).
const ROUTING_NAMESPACE: &str = "weft:routing";
const ANNOUNCES_KEY: &[u8] = b"announces";

/// Wait for requests that may compile plugins.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Default wait for a plugin command's answer.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Work items one input may cause before the node stops the chain (a plugin
/// messaging itself forever must not stall the node).
const MAX_WORK_PER_INPUT: usize = 10_000;

/// Inputs of one kind handled per wake-up of the actor before it looks at
/// the others again (bounded so links, requests and timers all get turns).
const BURST: usize = 64;

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

type Pending = oneshot::Sender<Response>;
/// A command waiting for its plugin's answer: which plugin, and who waits.
type PendingCommand = (super::core::PluginId, Pending);

/// A cheap, cloneable handle for talking to a running node.
#[derive(Clone)]
pub struct NodeHandle {
    requests: mpsc::Sender<(Request, Pending)>,
}

impl NodeHandle {
    /// Sends an admin request and waits for the answer (for `call`, up to the
    /// request's timeout).
    pub async fn request(&self, request: Request) -> Response {
        let timeout = match &request {
            Request::Call { timeout_ms: Some(ms), .. } => Duration::from_millis(*ms),
            Request::Call { .. } => DEFAULT_CALL_TIMEOUT,
            Request::Trace { timeout_ms: Some(ms), .. } => Duration::from_millis(*ms),
            // These may compile a wasm module first (seconds for a large one).
            Request::PluginLoad { .. }
            | Request::PluginReload { .. }
            | Request::Reload
            | Request::SwapDriver { .. } => LOAD_TIMEOUT,
            _ => Duration::from_secs(5),
        };
        let (tx, rx) = oneshot::channel();
        if self.requests.send((request, tx)).await.is_err() {
            return Response::failure("the node is stopping");
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => Response::failure("the node stopped before answering"),
            Err(_) => Response::failure(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}

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

/// Starts a node. Everything that can fail for config reasons fails here,
/// before any link comes up.
pub async fn start(config: NodeConfig) -> Result<RunningNode, StartError> {
    // Everything that can be checked without side effects, first: a refused
    // start leaves nothing behind.
    let identity = super::preflight::preflight(&config)?;
    let address = identity.address();
    let store = Arc::new(Store::open(&config.data_dir)?);
    let kv: Arc<dyn KvStore> = store.clone();
    let services = Arc::new(HostServices::new(identity.duplicate(), kv.clone()));
    let runtime = PluginHost::runtime(&config)?;
    let started = Instant::now();
    let (plugins, init_actions) = PluginHost::start(&config, &runtime, &services, kv.clone(), started)?;
    let wall_start_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64);
    let mut router = Router::new(
        identity.duplicate(),
        config.routing.router_config(),
        wall_start_ms,
        rand::random(),
        Default::default(),
    );
    // Session ephemerals come from 256 bits of OS randomness, not the
    // router's 64-bit jitter seed.
    router.reseed_sessions(rand::random());
    let mut core = NodeCore::new(router);
    let held =
        store.held().map_err(|message| crate::store::StoreError { path: store.path().to_path_buf(), message })?;
    let unreadable = held.iter().filter(|(key, record)| !core.restore_held(*key, record)).count();
    if !held.is_empty() {
        tracing::info!(held = held.len() - unreadable, unreadable, "store-and-forward packets restored");
    }
    let known = kv.get(ROUTING_NAMESPACE, ANNOUNCES_KEY).ok().flatten().unwrap_or_default();
    let (taken, restored_outputs) = core.import_announces(&known);
    if taken > 0 {
        tracing::info!(nodes = taken, "routing state restored: keys and sequences of known nodes");
    }
    for (id, ports) in plugins.ports() {
        core.attach(id, &ports)
            .map_err(|e| StartError::Ports(format!("{}: plugin `{}`: {e}", config.file.display(), plugins.name(id))))?;
    }

    let settings = Arc::new(LinkSettings::from(&config.quic));
    let endpoint = endpoint::create(&identity, config.quic.listen, &settings)
        .map_err(|source| StartError::Endpoint { file: config.file.display().to_string(), source })?;
    let listen = endpoint.local_addr().unwrap_or(config.quic.listen);
    let admin = admin_server::bind(&config.admin_socket).await?;

    let (link_tx, link_rx) = mpsc::channel(1024);
    let (serial_tx, serial_rx) = mpsc::channel(1024);
    let (background_tx, background_rx) = mpsc::channel(8);
    let radios = RadioHost::start(&config, &runtime, &services, address, &serial_tx, 0)?;
    let (request_tx, request_rx) = mpsc::channel(64);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (connected_tx, connected_rx) = watch::channel(HashSet::new());
    let book = Arc::new(DialBook::default());
    let dial = DialContext {
        endpoint: endpoint.clone(),
        identity: Arc::new(identity),
        settings: settings.clone(),
        events: link_tx.clone(),
        connected: connected_rx,
        book: book.clone(),
        shutdown: shutdown_rx.clone(),
    };

    tokio::spawn(listener::accept_loop(endpoint.clone(), settings.clone(), link_tx.clone()));
    for peer in &config.peers {
        if book.register(peer.node, &peer.address, PeerSource::Static) {
            tokio::spawn(dial_loop(dial.clone(), peer.node, peer.address.clone(), None));
        }
    }
    if config.discovery.enabled {
        discovery::start(&config.discovery, listen.port(), dial.clone())
            .map_err(|message| StartError::Discovery { file: config.file.display().to_string(), message })?;
    }
    let handle = NodeHandle { requests: request_tx };
    let admin_task = tokio::spawn(admin_server::serve(admin, handle.clone()));
    if let Some(addr) = config.metrics_listen {
        let listener = crate::metrics::http::bind(addr)
            .await
            .map_err(|message| StartError::Metrics { file: config.file.display().to_string(), message })?;
        tracing::info!(%addr, "metrics served at http://{addr}/metrics");
        tokio::spawn(crate::metrics::http::serve(listener, handle.clone()));
    }
    tracing::info!(node = %config.name, %address, %listen, admin = %config.admin_socket.display(), plugins = config.plugins.len(), "node started");

    let actor = Actor {
        name: config.name.clone(),
        address,
        listen,
        admin_socket: config.admin_socket.clone(),
        peers_configured: config.peers.len(),
        started,
        core,
        plugins,
        kv,
        store,
        services,
        link_params: (config.routing.quic_link_cost, config.routing.quic_link_bandwidth_bps),
        traces: HashMap::new(),
        next_trace: 1,
        links: LinkTable::new(address),
        connected: connected_tx,
        book,
        pending: HashMap::new(),
        next_command: 1,
        work: VecDeque::new(),
        runtime: Arc::new(runtime),
        background: background_tx,
        config: config.clone(),
        radios,
        radio_notes: Vec::new(),
        swaps: HashMap::new(),
        link_commands: HashMap::new(),
        lifecycle: lifecycle::Waiting::default(),
        draining: false,
        metrics: crate::metrics::NodeMetrics::new(),
        quotas: super::quota::QuotaBook::default(),
        next_routing_persist_ms: config.routing.persist_interval_s.saturating_mul(1000),
    };
    let inputs = Inputs {
        link_events: link_rx,
        serial: serial_rx,
        background: background_rx,
        requests: request_rx,
        shutdown: shutdown_rx,
    };
    let mut actor = actor;
    actor.execute(restored_outputs, false);
    let task = tokio::spawn(actor.run(inputs, init_actions, endpoint, admin_task));
    Ok(RunningNode { handle, address, listen, shutdown: shutdown_tx, task, finished: false })
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
    /// Cost and bandwidth of QUIC links.
    link_params: (u32, u64),
    traces: HashMap<u64, (Pending, Instant, Address)>,
    next_trace: u64,
    links: LinkTable,
    connected: watch::Sender<HashSet<Address>>,
    book: Arc<DialBook>,
    pending: HashMap<u64, PendingCommand>,
    next_command: u64,
    /// The output queue of [`Actor::execute`], kept between inputs.
    work: VecDeque<(Output, bool)>,
    /// Loads plugins after start (reloads, driver swaps), off the actor.
    runtime: Arc<PluginRuntime>,
    /// Where work done off the actor reports back.
    background: mpsc::Sender<lifecycle::Background>,
    /// The config the node runs (replaced by a successful reload).
    config: NodeConfig,
    /// Radio links.
    radios: RadioHost,
    /// What radio links reported while outputs were executing.
    radio_notes: Vec<RadioNote>,
    /// Driver swaps in progress, by radio link index, with the operator
    /// waiting for the answer (none for a swap a config reload started).
    swaps: HashMap<usize, Option<Pending>>,
    /// Driver commands waiting for an answer, by command id.
    link_commands: HashMap<u64, Pending>,
    /// Plugin loads, reloads and config reloads waiting for their files.
    lifecycle: lifecycle::Waiting,
    /// `weft ctl drain` asked the node to stop.
    draining: bool,
    /// Prometheus families.
    metrics: crate::metrics::NodeMetrics,
    /// Storage used per plugin, for quotas.
    quotas: super::quota::QuotaBook,
    /// When the routing state is next written to the store (node ms).
    next_routing_persist_ms: u64,
}

/// Everything the actor listens to.
struct Inputs {
    link_events: mpsc::Receiver<LinkEvent>,
    serial: mpsc::Receiver<(usize, SerialEvent)>,
    background: mpsc::Receiver<lifecycle::Background>,
    requests: mpsc::Receiver<(Request, Pending)>,
    shutdown: watch::Receiver<bool>,
}

impl Actor {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
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

    /// The next time the core or a radio link has work, in µs since start.
    fn next_deadline_us(&self) -> Option<u64> {
        let core = self.core.next_deadline().map(|ms| ms.saturating_mul(1000));
        let restarts = self.plugins.next_deadline().map(|ms| ms.saturating_mul(1000));
        [core, restarts, self.radios.next_deadline_us()].into_iter().flatten().min()
    }

    async fn run(
        mut self,
        inputs: Inputs,
        init_actions: super::plugin_host::PluginActions,
        endpoint: quinn::Endpoint,
        admin_task: tokio::task::JoinHandle<()>,
    ) {
        let Inputs { mut link_events, mut serial, mut background, mut requests, mut shutdown } = inputs;
        // What the plugins asked for in `init` (timers, first messages).
        for (plugin, actions) in init_actions {
            let outputs = self.core.actions(plugin, actions, self.now_ms());
            self.execute(outputs, false);
        }
        // One timer for the whole run, moved only when the next deadline
        // changes (re-arming a fresh one per input costs a timer-wheel insert
        // and removal per message).
        let timer = tokio::time::sleep_until(self.started.into());
        tokio::pin!(timer);
        let mut armed: Option<u64> = None;
        loop {
            let deadline = self.next_deadline_us();
            if deadline != armed {
                if let Some(us) = deadline {
                    timer.as_mut().reset((self.started + Duration::from_micros(us)).into());
                }
                armed = deadline;
            }
            tokio::select! {
                Some(event) = link_events.recv() => {
                    self.on_link_event(event);
                    // Take what else is already waiting before re-arming anything.
                    for _ in 1..BURST {
                        let Ok(event) = link_events.try_recv() else { break };
                        self.on_link_event(event);
                    }
                }
                Some((request, reply)) = requests.recv() => {
                    if self.on_request(request, reply) {
                        break;
                    }
                    for _ in 1..BURST {
                        let Ok((request, reply)) = requests.try_recv() else { break };
                        if self.on_request(request, reply) {
                            break;
                        }
                    }
                    if self.draining {
                        break;
                    }
                }
                Some(done) = background.recv() => {
                    if self.on_background(done) {
                        break;
                    }
                }
                Some((link, event)) = serial.recv() => {
                    let notes = self.radios.serial_event(link, event, self.now_us());
                    self.on_radio_notes(notes);
                }
                _ = &mut timer, if armed.is_some() => {
                    armed = None; // fired: re-arm from the next deadline
                    let outputs = self.core.poll(self.now_ms());
                    self.execute(outputs, false);
                    // The router's housekeeping wakes this timer every second.
                    if self.now_ms() >= self.next_routing_persist_ms {
                        let interval_ms = self.config.routing.persist_interval_s.saturating_mul(1000).max(1000);
                        self.next_routing_persist_ms = self.now_ms().saturating_add(interval_ms);
                        self.persist_routing("periodic");
                    }
                    for (plugin, actions) in self.plugins.poll(self.now_ms()) {
                        let outputs = self.core.actions(plugin, actions, self.now_ms());
                        self.execute(outputs, false);
                    }
                    let notes = self.radios.poll(self.now_us());
                    self.on_radio_notes(notes);
                }
                _ = crate::shutdown::stopped(&mut shutdown) => break,
            }
        }
        admin_task.abort();
        let _ = std::fs::remove_file(&self.admin_socket);
        for (plugin, actions) in self.plugins.shutdown_all(self.config.shutdown_deadline) {
            let outputs = self.core.actions(plugin, actions, self.now_ms());
            self.execute(outputs, true);
        }
        self.radios.shutdown_all(self.config.shutdown_deadline);
        self.persist_routing("node stopping");
        // Let final messages leave before the links close.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for link in self.links.iter() {
            link.close(close_code::SHUTDOWN, "node stopping");
        }
        endpoint.close(close_code::SHUTDOWN.into(), b"node stopping");
        let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        tracing::info!(node = %self.name, "node stopped");
    }

    fn publish_connected(&self) {
        let set: HashSet<Address> = self.links.peers().collect();
        self.connected.send_replace(set);
    }

    fn on_link_event(&mut self, event: LinkEvent) {
        let now = self.now_ms();
        let (cost, bandwidth_bps) = self.link_params;
        match event {
            LinkEvent::Up(link) => {
                let peer = link.peer();
                let remote = link.info().remote;
                let id = link.id();
                let params = LinkParams { neighbour: peer, cost, bandwidth_bps };
                match self.links.offer(link) {
                    Offer::Accepted => {
                        tracing::info!(%peer, %remote, "link up");
                        self.publish_connected();
                        let outputs = self.core.link_up(id, params, now);
                        self.execute(outputs, false);
                    }
                    Offer::Replaced(old) => {
                        tracing::info!(%peer, %remote, "link replaced by a newer connection");
                        old.close(close_code::DUPLICATE, "replaced by a newer connection");
                        let mut outputs = self.core.link_up(id, params, now);
                        outputs.extend(self.core.link_down(old.id()));
                        self.execute(outputs, false);
                    }
                    Offer::Rejected(new) => {
                        tracing::debug!(%peer, %remote, "duplicate connection closed");
                        new.close(close_code::DUPLICATE, "a connection already exists");
                    }
                }
            }
            LinkEvent::Frames { link, peer, frames } => {
                if self.links.get(&peer).is_none_or(|l| l.id() != link) {
                    return; // a replaced link's last frames
                }
                for packet in frames {
                    let outputs = self.core.packet_received(link, packet, now);
                    self.execute(outputs, false);
                }
            }
            LinkEvent::Down { link, peer, reason } => {
                if self.links.remove(peer, link) {
                    tracing::info!(%peer, "link down: {reason}");
                    self.publish_connected();
                    let outputs = self.core.link_down(link);
                    self.execute(outputs, false);
                }
            }
        }
    }

    /// Handles one admin request; true when the node should stop (drain).
    fn on_request(&mut self, request: Request, reply: Pending) -> bool {
        match request {
            Request::Status => {
                let _ = reply.send(Response::success(&self.status()));
            }
            Request::Peers => {
                let _ = reply.send(Response::success(&self.peers()));
            }
            Request::Send { to, port, payload } => {
                let response = match self.operator_send(to, port, payload.as_bytes()) {
                    Ok(sent) => Response::success(&SendOutcome::from(sent)),
                    Err(e) => Response::failure(e),
                };
                let _ = reply.send(response);
            }
            Request::SendMany { to, port, payloads } => {
                let mut outcome = SendManyOutcome { accepted: 0, stopped: None };
                for payload in &payloads {
                    match self.operator_send(to, port, payload.as_bytes()) {
                        Ok(_) => outcome.accepted += 1,
                        Err(e) => {
                            outcome.stopped = Some(e);
                            break;
                        }
                    }
                }
                let _ = reply.send(Response::success(&outcome));
            }
            Request::Routes => {
                let _ = reply.send(Response::success(&self.core.routes(self.now_ms())));
            }
            Request::Trace { to, .. } => {
                self.traces.retain(|_, (waiting, _, _)| !waiting.is_closed());
                let id = self.next_trace;
                self.next_trace += 1;
                self.traces.insert(id, (reply, Instant::now(), to));
                let outputs = self.core.trace(to, id, self.now_ms());
                self.execute(outputs, false);
            }
            Request::Call { plugin, command, args, .. } => {
                let Some(id) = self.plugins.find(&plugin) else {
                    let _ = reply.send(Response::failure(format!("no plugin named `{plugin}` is loaded")));
                    return false;
                };
                if let Err(e) = self.plugins.check_command(id, &command) {
                    let _ = reply.send(Response::failure(e));
                    return false;
                }
                self.pending.retain(|_, (_, waiting)| !waiting.is_closed());
                let command_id = self.next_command;
                self.next_command += 1;
                self.pending.insert(command_id, (id, reply));
                let event = Event::Command(Command { id: command_id, name: command, args });
                self.execute(vec![Output::Deliver { plugin: id, event }], false);
            }
            Request::Links => {
                let rows = self.radios.rows(self.now_us());
                let _ = reply.send(Response::success(&rows));
            }
            Request::SwapDriver { link, file } => {
                let Some(index) = self.radios.find(&link) else {
                    let known = self.radios.names().join(", ");
                    let _ = reply.send(Response::failure(format!("no radio link named `{link}` (links: {known})")));
                    return false;
                };
                if self.swaps.contains_key(&index) {
                    let _ = reply.send(Response::failure(format!("link `{link}` is already swapping its driver")));
                    return false;
                }
                self.swaps.insert(index, Some(reply));
                // Compiling the new driver must not stall the node: load it
                // on a blocking thread; the actor starts the swap when it is ready.
                self.load_driver_off_actor(index, file);
            }
            Request::LinkCall { link, command, args } => {
                let Some(index) = self.radios.find(&link) else {
                    let _ = reply.send(Response::failure(format!("no radio link named `{link}`")));
                    return false;
                };
                self.link_commands.retain(|_, waiting| !waiting.is_closed());
                let command_id = self.next_command;
                self.next_command += 1;
                self.link_commands.insert(command_id, reply);
                let notes = self.radios.command(index, Command { id: command_id, name: command, args }, self.now_us());
                self.on_radio_notes(notes);
            }
            Request::Plugins => {
                let _ = reply.send(Response::success(&self.plugins.rows()));
            }
            Request::Metrics => {
                let text = self.render_metrics();
                let _ = reply.send(Response::success(&text));
            }
            Request::Drain => {
                tracing::info!("drain requested over the admin socket");
                let _ = reply.send(Response::success(&"draining: shutdown hooks run, then the node stops"));
                self.draining = true;
                return true;
            }
            other => self.on_lifecycle_request(other, reply),
        }
        false
    }

    /// Queues `packet` on link `id`.
    fn transmit(&mut self, id: u64, packet: Vec<u8>) -> Result<(), String> {
        if is_radio_link(id) {
            let notes = self.radios.send(id, &packet, self.now_us())?;
            self.radio_notes.extend(notes);
            return Ok(());
        }
        match self.links.by_id(id) {
            Some(link) => link.send(crate::link::LinkFrame::Packet(packet)).map_err(|e| e.to_string()),
            None => Err("the link went down".to_string()),
        }
    }

    /// Executes an operator's send; a link that cannot take the frame is the
    /// operator's error.
    /// Sends one message as the node (not a plugin), for the operator.
    fn operator_send(&mut self, to: Address, port: u16, payload: &[u8]) -> Result<Sent, String> {
        let send = self.core.operator_send(to, port, payload, self.now_ms())?;
        self.execute_operator(send.sent, send.outputs)
    }

    fn execute_operator(&mut self, sent: Sent, outputs: Vec<Output>) -> Result<Sent, String> {
        let mut rest = Vec::new();
        let mut failure = None;
        for output in outputs {
            match output {
                Output::Transmit { link, packet, .. } if matches!(sent, Sent::Transmitted(l) if l == link) => {
                    if let Err(e) = self.transmit(link, packet) {
                        failure = Some(e);
                    }
                }
                other => rest.push(other),
            }
        }
        self.execute(rest, false);
        match failure {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }

    /// Executes outputs and everything they cause, breadth-first. Refusals
    /// caused while handling a refusal are logged, not delivered, so a plugin
    /// cannot loop on them.
    fn execute(&mut self, outputs: Vec<Output>, in_refusal: bool) {
        // The queue's buffer is kept between inputs (one allocation fewer per packet).
        let mut queue = std::mem::take(&mut self.work);
        queue.clear();
        queue.extend(outputs.into_iter().map(|o| (o, in_refusal)));
        self.run_work(&mut queue);
        queue.clear();
        self.work = queue;
        if !self.radio_notes.is_empty() {
            let notes = std::mem::take(&mut self.radio_notes);
            self.on_radio_notes(notes);
        }
    }

    /// Acts on what radio links reported: packets and neighbours go to the
    /// core like a QUIC link's; swap results and driver answers go to the
    /// operator waiting for them.
    fn on_radio_notes(&mut self, notes: Vec<RadioNote>) {
        for note in notes {
            let now = self.now_ms();
            match note {
                RadioNote::Packet { link, packet } => {
                    let outputs = self.core.packet_received(link, packet, now);
                    self.execute(outputs, false);
                }
                RadioNote::NeighbourUp { link, neighbour, cost, bandwidth_bps } => {
                    let params = LinkParams { neighbour, cost, bandwidth_bps };
                    let outputs = self.core.link_up(link, params, now);
                    self.execute(outputs, false);
                }
                RadioNote::NeighbourDown { link } => {
                    let outputs = self.core.link_down(link);
                    self.execute(outputs, false);
                }
                RadioNote::CommandReply { reply, .. } => {
                    if let Some(waiting) = self.link_commands.remove(&reply.id) {
                        let _ = waiting.send(Response::success(&CallOutcome { ok: reply.ok, body: reply.body }));
                    }
                }
                RadioNote::SwapFinished { index, result } => {
                    match &result {
                        Ok(report) => {
                            tracing::info!(link = %report.link, "driver swap finished: {} -> {}", report.from, report.to)
                        }
                        Err(e) => tracing::warn!("driver swap failed: {e}"),
                    }
                    if let Some(Some(waiting)) = self.swaps.remove(&index) {
                        let _ = waiting.send(match result {
                            Ok(report) => Response::success(&report),
                            Err(e) => Response::failure(e),
                        });
                    }
                }
            }
        }
    }

    fn run_work(&mut self, queue: &mut VecDeque<(Output, bool)>) {
        let mut work = 0;
        while let Some((output, refusal_chain)) = queue.pop_front() {
            work += 1;
            if work > MAX_WORK_PER_INPUT {
                tracing::error!("one input caused over {MAX_WORK_PER_INPUT} steps; the rest was dropped");
                return;
            }
            match output {
                Output::Transmit { link, packet, on_behalf } => {
                    if let (Err(reason), Some((plugin, refused))) = (self.transmit(link, packet), on_behalf) {
                        let refused = ActionRefused { reason, ..refused };
                        queue.push_back((Output::Refuse { plugin, refused }, refusal_chain));
                    }
                }
                Output::TransmitHeld { link, packet, held } => {
                    let sent = match self.transmit(link, packet) {
                        Ok(()) => true,
                        Err(reason) => {
                            tracing::debug!(link, "a held packet's transmit was refused ({reason}); kept for a retry");
                            false
                        }
                    };
                    queue.extend(self.core.held_outcome(held, sent).into_iter().map(|o| (o, refusal_chain)));
                }
                Output::Deliver { plugin, event } => {
                    let is_refusal = refusal_chain || matches!(event, Event::ActionRefused(_));
                    let actions = self.plugins.call(plugin, &event);
                    if let Some(failure) = self.plugins.failure(plugin) {
                        // Whoever waits for this plugin's answers will not get one.
                        let failure = format!("plugin `{}` failed: {failure}", self.plugins.name(plugin));
                        let waiting: Vec<u64> =
                            self.pending.iter().filter(|(_, (p, _))| *p == plugin).map(|(id, _)| *id).collect();
                        for id in waiting {
                            if let Some((_, reply)) = self.pending.remove(&id) {
                                let _ = reply.send(Response::failure(failure.clone()));
                            }
                        }
                    }
                    if !actions.is_empty() {
                        let now = self.now_ms();
                        queue.extend(self.core.actions(plugin, actions, now).into_iter().map(|o| (o, is_refusal)));
                    }
                }
                Output::Store { plugin, writes } => {
                    let name = self.plugins.name(plugin).to_string();
                    if let Some(quota) = self.plugins.spec(plugin).and_then(|s| s.storage_quota_bytes)
                        && let Err(reason) = self.quotas.admit(&*self.kv, &name, quota, &writes)
                    {
                        let refused = ActionRefused { action: 6, index: 0, reason, tag: 0 };
                        queue.push_back((Output::Refuse { plugin, refused }, refusal_chain));
                        continue;
                    }
                    if let Err(e) = self.kv.commit(&name, &writes) {
                        tracing::error!(plugin = %name, "storage write failed: {e}");
                    }
                }
                Output::Hold(change) => {
                    if let Err(e) = self.store.apply_held(std::slice::from_ref(&change)) {
                        tracing::error!("store-and-forward write failed: {e}");
                    }
                    if let HoldChange::Put(held) = &change {
                        tracing::debug!(destination = %held.destination, "packet held until a path appears");
                    }
                }
                Output::KeyLearned { address, signing_key } => match VerifyingKey::from_bytes(&signing_key) {
                    Ok(key) => {
                        self.services.learn_key(key);
                        tracing::debug!(%address, "node key learned");
                    }
                    Err(_) => tracing::warn!(%address, "announce carried an unusable key"),
                },
                Output::TraceDone { id, path } => {
                    if let Some((waiting, started, destination)) = self.traces.remove(&id) {
                        let report = TraceReport {
                            destination,
                            path,
                            rtt_us: started.elapsed().as_micros() as u64,
                            route: self.core.routes(self.now_ms()).into_iter().find(|r| r.destination == destination),
                        };
                        let _ = waiting.send(Response::success(&report));
                    }
                }
                Output::CommandReply { plugin, reply } => match self.pending.get(&reply.id) {
                    Some((asked, _)) if *asked == plugin => {
                        if let Some((_, waiting)) = self.pending.remove(&reply.id) {
                            let outcome = CallOutcome { ok: reply.ok, body: reply.body };
                            let _ = waiting.send(Response::success(&outcome));
                        }
                    }
                    _ => tracing::debug!(plugin = %self.plugins.name(plugin), "answer to a command it was not asked"),
                },
                Output::Log { plugin, level, message } => {
                    let plugin = self.plugins.name(plugin);
                    match level {
                        LogLevel::Error => tracing::error!(plugin, "{message}"),
                        LogLevel::Warn => tracing::warn!(plugin, "{message}"),
                        LogLevel::Info => tracing::info!(plugin, "{message}"),
                        LogLevel::Debug => tracing::debug!(plugin, "{message}"),
                        LogLevel::Trace => tracing::trace!(plugin, "{message}"),
                    }
                }
                Output::Metric { plugin, metric } => self.plugins.record_metric(plugin, &metric),
                Output::Refuse { plugin, refused } => {
                    self.plugins.count_refused(plugin);
                    if refusal_chain {
                        tracing::warn!(plugin = %self.plugins.name(plugin), "action refused: {}", refused.reason);
                    } else {
                        let event = Event::ActionRefused(refused);
                        queue.push_back((Output::Deliver { plugin, event }, true));
                    }
                }
            }
        }
    }

    /// Refreshes the metric families from every counter and renders them.
    fn render_metrics(&mut self) -> String {
        use crate::metrics::{LinkSample, NodeSample, PluginSample, RadioSample};
        let rows = self.plugins.rows();
        let samples = self.plugins.take_dispatch_samples();
        let radios = self.radios.rows(self.now_us());
        let plugins = rows
            .iter()
            .map(|row| PluginSample {
                name: &row.name,
                up: row.state == "running",
                events: row.events,
                actions: row.actions,
                faults: row.faults,
                restarts: u64::from(row.restarts),
                dropped: row.dropped,
                refused: row.refused,
                memory_bytes: row.memory_bytes,
                dispatch_ns: samples.iter().find(|(n, _)| *n == row.name).map_or(&[], |(_, s)| s.as_slice()),
                reported: &row.metrics,
            })
            .collect();
        let links = self
            .links
            .iter()
            .map(|link| LinkSample {
                peer: link.peer().to_string(),
                counters: link.counters(),
                rtt_s: link.rtt().as_secs_f64(),
            })
            .collect();
        let router = self.core.router();
        let sample = NodeSample {
            core: self.core.counters(),
            routing: router.counters(),
            sessions: router.sessions().counters(),
            hold: router.hold_counters(),
            routes: router.table().reachable(self.now_ms()),
            held: router.held(),
            plugins,
            links,
            radios: radios
                .iter()
                .map(|r| RadioSample { name: &r.name, status: &r.status, reported: &r.driver_metrics })
                .collect(),
        };
        self.metrics.render(sample)
    }

    fn status(&mut self) -> Status {
        Status {
            name: self.name.clone(),
            address: self.address,
            uptime_s: self.started.elapsed().as_secs(),
            listen: self.listen.to_string(),
            links_up: self.links.len(),
            peers_configured: self.peers_configured,
            plugins: self.plugins.rows(),
            counters: self.core.counters(),
            routes: self.core.router().table().reachable(self.now_ms()),
            held: self.core.router().held(),
            routing: self.core.router().counters(),
            sessions: self.core.router().sessions().counters(),
            hold: self.core.router().hold_counters(),
        }
    }

    fn peers(&self) -> Vec<PeerRow> {
        let book = self.book.snapshot();
        let mut rows: Vec<PeerRow> = self
            .links
            .iter()
            .map(|link| {
                let info = link.info();
                let dial = book.get(&info.peer);
                PeerRow {
                    node: info.peer,
                    state: "up".into(),
                    source: dial.map(|d| d.source),
                    remote: Some(info.remote.to_string()),
                    direction: Some(info.direction),
                    up_s: info.since.elapsed().ok().map(|d| d.as_secs()),
                    rtt_us: Some(link.rtt().as_micros() as u64),
                    seen_as: info.reflexive.lock().ok().and_then(|s| s.map(|a| a.to_string())),
                    counters: Some(link.counters()),
                    failures: dial.map_or(0, |d| d.failures),
                    last_error: dial.and_then(|d| d.last_error.clone()),
                }
            })
            .collect();
        for (node, dial) in book {
            if self.links.get(&node).is_none() {
                rows.push(PeerRow {
                    node,
                    state: "down".into(),
                    source: Some(dial.source),
                    remote: Some(dial.address),
                    direction: None,
                    up_s: None,
                    rtt_us: None,
                    seen_as: None,
                    counters: None,
                    failures: dial.failures,
                    last_error: dial.last_error,
                });
            }
        }
        rows.sort_by_key(|r| r.node);
        rows
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
