//! The node's QUIC endpoint: one UDP socket for listening and dialing.
//!
//! Owns: [`LinkSettings`], the quinn transport configuration (keepalive, idle
//! timeout, datagrams), the stateless-reset key and the connection-id key.
//! Both keys are derived from the node key, so a node restarted on the same
//! port recognises the connection ids of its previous run and tells its
//! neighbours "that old connection is gone" on their first packet, instead of
//! leaving them to wait for the idle timeout.

use super::tls::{TlsError, client_crypto, server_crypto};
use crate::config::schema::QuicSection;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use weft_core::crypto::NodeIdentity;
use weft_plugin_api::Address;

/// Link behaviour taken from `[quic]`.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// Keepalive interval.
    pub keepalive: Duration,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Largest frame accepted or sent.
    pub max_frame_bytes: usize,
    /// First reconnect delay.
    pub reconnect_min: Duration,
    /// Reconnect delay cap.
    pub reconnect_max: Duration,
    /// Bytes a link queues for sending before refusing more ("congested").
    pub send_queue_bytes: usize,
    /// Links others dialed kept open at once.
    pub max_inbound: usize,
}

impl From<&QuicSection> for LinkSettings {
    fn from(q: &QuicSection) -> Self {
        Self {
            keepalive: Duration::from_millis(q.keepalive_ms),
            idle_timeout: Duration::from_millis(q.idle_timeout_ms),
            max_frame_bytes: q.max_frame_bytes as usize,
            reconnect_min: Duration::from_millis(q.reconnect_min_ms),
            reconnect_max: Duration::from_millis(q.reconnect_max_ms),
            send_queue_bytes: 4 << 20,
            max_inbound: q.max_inbound,
        }
    }
}

/// The endpoint could not be created.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Binding the UDP socket failed.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The listen address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A transport setting was out of range.
    #[error("QUIC transport setting: {0}")]
    Transport(String),
}

fn transport(settings: &LinkSettings) -> Result<Arc<quinn::TransportConfig>, EndpointError> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(settings.keepalive));
    let idle =
        quinn::IdleTimeout::try_from(settings.idle_timeout).map_err(|e| EndpointError::Transport(e.to_string()))?;
    t.max_idle_timeout(Some(idle));
    t.datagram_receive_buffer_size(Some(256 * 1024));
    t.max_concurrent_bidi_streams(0u8.into());
    t.max_concurrent_uni_streams(8u8.into());
    Ok(Arc::new(t))
}

/// Creates the endpoint listening on `listen`.
pub fn create(
    identity: &NodeIdentity,
    listen: SocketAddr,
    settings: &LinkSettings,
) -> Result<quinn::Endpoint, EndpointError> {
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto(identity)?));
    server.transport_config(transport(settings)?);
    let seed =
        Sha256::new().chain_update(b"weft quic stateless reset v1").chain_update(identity.secret_seed()).finalize();
    let reset_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &seed);
    let mut endpoint_config = quinn::EndpointConfig::new(Arc::new(reset_key));
    // Connection ids carry a keyed hash that the endpoint checks before it
    // answers an unknown one with a reset. quinn's default key is random per
    // run, so a restarted node took its old connection ids for garbage and
    // stayed silent: derive the key from the node key too.
    let cid_key =
        Sha256::new().chain_update(b"weft quic connection ids v1").chain_update(identity.secret_seed()).finalize();
    let cid_key = u64::from_le_bytes([
        cid_key[0], cid_key[1], cid_key[2], cid_key[3], cid_key[4], cid_key[5], cid_key[6], cid_key[7],
    ]);
    endpoint_config.cid_generator(move || Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key)));
    let socket = std::net::UdpSocket::bind(listen).map_err(|source| EndpointError::Bind { address: listen, source })?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| EndpointError::Transport("no async runtime (must run inside tokio)".into()))?;
    quinn::Endpoint::new(endpoint_config, Some(server), socket, runtime)
        .map_err(|source| EndpointError::Bind { address: listen, source })
}

/// Client configuration for dialing the node whose address must be `expected`.
pub fn client_config(
    identity: &NodeIdentity,
    expected: Address,
    settings: &LinkSettings,
) -> Result<quinn::ClientConfig, EndpointError> {
    let mut config = quinn::ClientConfig::new(Arc::new(client_crypto(identity, expected)?));
    config.transport_config(transport(settings)?);
    Ok(config)
}
