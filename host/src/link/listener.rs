//! Accepting neighbours that dial us.

use super::connection::{self, Direction, LinkEvent};
use super::dialer::presented_address;
use super::endpoint::LinkSettings;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// Connections others dialed: how many are open, how many were refused.
#[derive(Debug, Default)]
pub struct Inbound {
    open: AtomicUsize,
    refused: AtomicU64,
}

impl Inbound {
    /// Connections refused because `max_inbound` were open.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Counts one open inbound connection until dropped.
struct Slot(Arc<Inbound>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts connections until the endpoint closes. Each runs as a link; past
/// `settings.max_inbound` open ones, new ones are refused before their
/// handshake (no crypto spent on them) and counted in `inbound`.
pub async fn accept_loop(
    endpoint: quinn::Endpoint,
    settings: Arc<LinkSettings>,
    events: mpsc::Sender<LinkEvent>,
    inbound: Arc<Inbound>,
) {
    while let Some(incoming) = endpoint.accept().await {
        if inbound.open.fetch_add(1, Ordering::AcqRel) >= settings.max_inbound {
            inbound.open.fetch_sub(1, Ordering::AcqRel);
            inbound.refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                "refused a connection from {}: {} inbound links open",
                incoming.remote_address(),
                settings.max_inbound
            );
            incoming.refuse();
            continue;
        }
        let slot = Slot(inbound.clone());
        let settings = settings.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let remote = incoming.remote_address();
            let connection = match incoming.await {
                Ok(c) => c,
                Err(e) => return tracing::info!("refused a connection from {remote}: {e}"),
            };
            match presented_address(&connection) {
                Ok(peer) => connection::run(connection, peer, Direction::Inbound, settings, events).await,
                Err(e) => {
                    tracing::info!("refused a connection from {remote}: {e}");
                    connection.close(0u8.into(), b"no usable certificate");
                }
            }
        });
    }
}
