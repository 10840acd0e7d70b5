//! Accepting neighbours that dial us.

use super::connection::{self, Direction, LinkEvent};
use super::dialer::presented_address;
use super::endpoint::LinkSettings;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Accepts connections until the endpoint closes. Each runs as a link.
pub async fn accept_loop(endpoint: quinn::Endpoint, settings: Arc<LinkSettings>, events: mpsc::Sender<LinkEvent>) {
    while let Some(incoming) = endpoint.accept().await {
        let settings = settings.clone();
        let events = events.clone();
        tokio::spawn(async move {
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
