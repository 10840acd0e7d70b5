//! Dialing static and discovered neighbours, and redialing them.
//!
//! Owns: one task per neighbour to dial ([`dial_loop`]) and the dial status
//! shown by `weft ctl peers` ([`DialBook`]). A dialer waits while its
//! neighbour is connected (by either side), dials with exponential backoff and
//! jitter after a failure, and logs a key mismatch as one clear line.

use super::backoff::Backoff;
use super::connection::{self, Direction, LinkEvent};
use super::endpoint::{LinkSettings, client_config};
use super::tls::{PeerCertError, SERVER_NAME, peer_address};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use weft_core::crypto::NodeIdentity;
use weft_plugin_api::Address;

/// Where a neighbour came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerSource {
    /// `[[peers]]` in the config.
    Static,
    /// A LAN discovery beacon.
    Discovered,
}

/// Dial status of one neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialStatus {
    /// `host:port` dialed.
    pub address: String,
    /// Static or discovered.
    pub source: PeerSource,
    /// Attempts since the last successful connection.
    pub failures: u32,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
}

/// Dial status of every neighbour the node dials.
#[derive(Debug, Default)]
pub struct DialBook {
    entries: Mutex<BTreeMap<Address, DialStatus>>,
}

impl DialBook {
    /// A copy of all entries.
    pub fn snapshot(&self) -> BTreeMap<Address, DialStatus> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Registers `peer`; returns false if it is already being dialed.
    pub fn register(&self, peer: Address, address: &str, source: PeerSource) -> bool {
        let Ok(mut entries) = self.entries.lock() else { return false };
        if entries.contains_key(&peer) {
            return false;
        }
        let status = DialStatus { address: address.to_string(), source, failures: 0, last_error: None };
        entries.insert(peer, status);
        true
    }

    /// How many neighbours from `source` are being dialed.
    pub fn count(&self, source: PeerSource) -> usize {
        self.entries.lock().map(|e| e.values().filter(|s| s.source == source).count()).unwrap_or(0)
    }

    /// Forgets `peer` (its dialer has stopped).
    pub fn forget(&self, peer: Address) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&peer);
        }
    }

    fn update(&self, peer: Address, f: impl FnOnce(&mut DialStatus)) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some(status) = entries.get_mut(&peer)
        {
            f(status);
        }
    }
}

/// What every dialer shares.
#[derive(Clone)]
pub struct DialContext {
    /// The node's endpoint.
    pub endpoint: quinn::Endpoint,
    /// The node key.
    pub identity: Arc<NodeIdentity>,
    /// Link settings.
    pub settings: Arc<LinkSettings>,
    /// Where links report.
    pub events: mpsc::Sender<LinkEvent>,
    /// Neighbours currently connected (by either side).
    pub connected: watch::Receiver<HashSet<Address>>,
    /// Dial status for `weft ctl peers`.
    pub book: Arc<DialBook>,
    /// Becomes true when the node stops.
    pub shutdown: watch::Receiver<bool>,
}

/// Keeps a link to `peer` at `address` up until the node stops. With
/// `give_up_after`, stops (and forgets the peer) after that many failures in
/// a row, so a stale or spoofed discovery beacon is not dialed forever.
pub async fn dial_loop(ctx: DialContext, peer: Address, address: String, give_up_after: Option<u32>) {
    let mut backoff = Backoff::new(ctx.settings.reconnect_min, ctx.settings.reconnect_max);
    let mut connected = ctx.connected.clone();
    let mut shutdown = ctx.shutdown.clone();
    loop {
        // Wait while the neighbour is connected (whoever dialed).
        tokio::select! {
            result = connected.wait_for(|set| !set.contains(&peer)) => if result.is_err() { return },
            _ = crate::shutdown::stopped(&mut shutdown) => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let started = Instant::now();
        match connect(&ctx, peer, &address).await {
            Ok(connection) => {
                ctx.book.update(peer, |s| {
                    s.failures = 0;
                    s.last_error = None;
                });
                connection::run(connection, peer, Direction::Outbound, ctx.settings.clone(), ctx.events.clone()).await;
                if started.elapsed() > Duration::from_secs(30) {
                    backoff.reset();
                }
            }
            Err(error) => {
                tracing::warn!(peer = %peer, "cannot link to {address}: {error}");
                let mut failures = 0;
                ctx.book.update(peer, |s| {
                    s.failures += 1;
                    failures = s.failures;
                    s.last_error = Some(error);
                });
                if give_up_after.is_some_and(|limit| failures >= limit) {
                    tracing::info!(peer = %peer, "giving up on {address} after {failures} failures");
                    ctx.book.forget(peer);
                    return;
                }
            }
        }
        let delay = backoff.next_delay(&mut rand::thread_rng());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = crate::shutdown::stopped(&mut shutdown) => return,
        }
    }
}

async fn connect(ctx: &DialContext, peer: Address, address: &str) -> Result<quinn::Connection, String> {
    let target = tokio::net::lookup_host(address)
        .await
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))?;
    let config = client_config(&ctx.identity, peer, &ctx.settings).map_err(|e| e.to_string())?;
    let connecting = ctx.endpoint.connect_with(config, target, SERVER_NAME).map_err(|e| e.to_string())?;
    let connection = connecting.await.map_err(|e| match e {
        quinn::ConnectionError::TransportError(t) if t.reason.contains("mismatch") => {
            format!("refused: {} (check `node` for this peer in the config)", t.reason)
        }
        other => other.to_string(),
    })?;
    // The verifier checked the address already; this guards against a
    // connection without a certificate.
    let presented = presented_address(&connection).map_err(|e| e.to_string())?;
    if presented != peer {
        connection.close(0u8.into(), b"key mismatch");
        return Err(format!("refused: its key hashes to {presented}, expected {peer}"));
    }
    Ok(connection)
}

/// The address proven by the peer's certificate.
pub fn presented_address(connection: &quinn::Connection) -> Result<Address, PeerCertError> {
    let identity = connection.peer_identity().ok_or(PeerCertError::None)?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .map_err(|_| PeerCertError::UnexpectedType)?;
    let first = certs.first().ok_or(PeerCertError::EmptyChain)?;
    peer_address(first)
}
