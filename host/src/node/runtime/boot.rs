//! Starting a node: everything that can fail for config reasons fails here,
//! before any link comes up; then the actor is spawned.
//!
//! Owns: the order of start (preflight, store, plugins, router with its
//! restored state, endpoint, admin socket, radio links, dialers, discovery,
//! metrics endpoint). Must not: handle an input (that is the event loop's).

use super::{ANNOUNCES_KEY, Actor, Duplicate, Inputs, QuicLinkParams, ROUTING_NAMESPACE, RunningNode, StartError};
use crate::admin::server as admin_server;
use crate::config::NodeConfig;
use crate::control::NodeHandle;
use crate::discovery;
use crate::kv::KvStore;
use crate::link::dialer::{DialBook, DialContext, PeerSource, dial_loop};
use crate::link::endpoint::{self, LinkSettings};
use crate::link::listener;
use crate::link::table::LinkTable;
use crate::node::plugin_host::PluginHost;
use crate::node::radio_host::RadioHost;
use crate::plugin::HostServices;
use crate::store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};
use weft_core::node::NodeCore;
use weft_core::routing::Router;
use weft_core::time::{Millis, UnixMillis};

/// Starts a node. Everything that can fail for config reasons fails here,
/// before any link comes up.
pub async fn start(config: NodeConfig) -> Result<RunningNode, StartError> {
    // Everything that can be checked without side effects, first: a refused
    // start leaves nothing behind.
    let identity = crate::node::preflight::preflight(&config)?;
    let address = identity.address();
    let store = Arc::new(Store::open(&config.data_dir)?);
    let kv: Arc<dyn KvStore> = store.clone();
    let services = Arc::new(HostServices::new(identity.duplicate(), kv.clone()));
    let runtime = PluginHost::runtime(&config)?;
    let started = Instant::now();
    let (plugins, init_actions) = PluginHost::start(&config, &runtime, &services, kv.clone(), started)?;
    let wall_start = UnixMillis::from_unix_ms(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64),
    );
    let mut router = Router::new(
        identity.duplicate(),
        config.routing.router_config(),
        wall_start,
        rand::random(),
        Default::default(),
    );
    // Session ephemerals come from 256 bits of OS randomness, not the
    // router's 64-bit jitter seed.
    router.reseed(rand::random());
    let mut core = NodeCore::new(router);
    let held = store
        .held()
        .map_err(|e| crate::store::StoreError { path: store.path().to_path_buf(), message: e.to_string() })?;
    let unreadable = held.iter().filter(|(key, record)| !core.restore_held(*key, record)).count();
    if !held.is_empty() {
        tracing::info!(held = held.len() - unreadable, unreadable, "store-and-forward packets restored");
    }
    let mut known = kv.get(ROUTING_NAMESPACE, ANNOUNCES_KEY).ok().flatten().unwrap_or_default();
    known.extend(announce_records(&*kv));
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
    let (radios, radio_start) =
        RadioHost::start(&config, &runtime, &services, &identity, wall_start, &serial_tx, plugins.releaser())?;
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

    let inbound = Arc::new(listener::Inbound::default());
    tokio::spawn(listener::accept_loop(endpoint.clone(), settings.clone(), link_tx.clone(), inbound.clone()));
    for peer in &config.peers {
        if book.register(peer.node, &peer.address, PeerSource::Static) {
            tokio::spawn(dial_loop(dial.clone(), peer.node, peer.address.clone(), None));
        }
    }
    if config.discovery.enabled {
        discovery::start(&config.discovery, listen.port(), dial.clone())
            .map_err(|e| StartError::Discovery { file: config.file.display().to_string(), message: e.to_string() })?;
    }
    let handle = NodeHandle::new(request_tx);
    let admin_task = tokio::spawn(admin_server::serve(admin, handle.clone()));
    if let Some(addr) = config.metrics_listen {
        let listener = crate::metrics::http::bind(addr)
            .await
            .map_err(|e| StartError::Metrics { file: config.file.display().to_string(), message: e.to_string() })?;
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
        quic_link: QuicLinkParams {
            cost: config.routing.quic_link_cost,
            bandwidth_bps: config.routing.quic_link_bandwidth_bps,
        },
        traces: HashMap::new(),
        next_trace: 1,
        links: LinkTable::new(address),
        connected: connected_tx,
        book,
        pending: HashMap::new(),
        next_command: 1,
        work: super::work::Queue::default(),
        runtime: Arc::new(runtime),
        background: background_tx,
        config: config.clone(),
        radios,
        swaps: HashMap::new(),
        link_commands: HashMap::new(),
        lifecycle: super::lifecycle::Waiting::default(),
        draining: false,
        metrics: crate::metrics::NodeMetrics::new(),
        quotas: crate::node::quota::QuotaBook::default(),
        next_routing_persist: Millis::from_ms(config.routing.persist_interval_s.saturating_mul(1000)),
        holds: super::holds::HoldBatch::default(),
        bulk: std::collections::VecDeque::new(),
        inbound,
        announce_records: Vec::new(),
    };
    let inputs = Inputs {
        link_events: link_rx,
        serial: serial_rx,
        background: background_rx,
        requests: request_rx,
        shutdown: shutdown_rx,
    };
    let mut actor = actor;
    actor.on_radio_work(radio_start);
    actor.execute(restored_outputs, false);
    let task = tokio::spawn(actor.run(inputs, init_actions, endpoint, admin_task));
    Ok(RunningNode { handle, address, listen, shutdown: shutdown_tx, task, finished: false })
}

/// The bodies of every per-node announce record, concatenated (unreadable
/// ones are skipped: the router verifies each body again anyway).
fn announce_records(kv: &dyn crate::kv::KvStore) -> Vec<u8> {
    let mut bodies = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    while let Ok(keys) = kv.keys(ROUTING_NAMESPACE, super::ANNOUNCE_RECORD_PREFIX, after.as_deref(), 1024) {
        for key in &keys {
            if let Ok(Some(body)) = kv.get(ROUTING_NAMESPACE, key)
                && body.len() == weft_core::routing::wire::ANNOUNCE_BODY
            {
                bodies.extend_from_slice(&body);
            }
        }
        match keys.last() {
            Some(last) if keys.len() == 1024 => after = Some(last.clone()),
            _ => break,
        }
    }
    bodies
}
