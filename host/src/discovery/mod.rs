//! LAN discovery with UDP multicast beacons.
//!
//! Owns: sending this node's beacon every `interval_ms` to the configured
//! IPv4 group, listening for other nodes' beacons, and starting a dialer for
//! each newly seen node. To avoid both sides dialing, only the node with the
//! lower address dials; the other one accepts. Discovered dialers give up
//! after a few failures, so a node that left (or a forged beacon) is not
//! dialed forever; its next beacon starts a new dialer.
//!
//! Off by default: on the public internet beacons make no sense.

pub mod beacon;

use crate::config::schema::DiscoverySection;
use crate::link::dialer::{DialContext, PeerSource, dial_loop};
use beacon::Beacon;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::UdpSocket;

/// Failed dials in a row before a discovered neighbour is forgotten.
const DISCOVERED_GIVE_UP: u32 = 5;
/// Discovered neighbours dialed at once; beacons beyond this are ignored, so
/// a flood of forged beacons cannot make the node dial without bound.
const MAX_DISCOVERED: usize = 64;

/// Why discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The multicast group could not be joined.
    #[error("cannot join {group}: {source}")]
    Join {
        /// The group.
        group: SocketAddrV4,
        /// What failed.
        source: std::io::Error,
    },
    /// No socket to send beacons from.
    #[error("cannot send beacons: {0}")]
    Send(std::io::Error),
}

/// Starts the beacon sender and listener; both stop with the node.
pub fn start(settings: &DiscoverySection, quic_port: u16, dial: DialContext) -> Result<(), DiscoveryError> {
    let group = settings.group;
    let receiver = listen_socket(group, settings.interface).map_err(|source| DiscoveryError::Join { group, source })?;
    let sender = send_socket(settings.interface).map_err(DiscoveryError::Send)?;
    let own = dial.identity.address();
    let beacon = Beacon { node: own, quic_port }.encode();
    let interval = Duration::from_millis(settings.interval_ms);
    let mut shutdown = dial.shutdown.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if let Err(e) = sender.send_to(&beacon, SocketAddr::V4(group)).await {
                        tracing::debug!("beacon not sent: {e}");
                    }
                }
                _ = crate::shutdown::stopped(&mut shutdown) => return,
            }
        }
    });
    let mut shutdown = dial.shutdown.clone();
    tokio::spawn(async move {
        let mut buffer = [0u8; 64];
        loop {
            let (len, source) = tokio::select! {
                received = receiver.recv_from(&mut buffer) => match received {
                    Ok(r) => r,
                    Err(e) => { tracing::warn!("discovery stopped: {e}"); return; }
                },
                _ = crate::shutdown::stopped(&mut shutdown) => return,
            };
            let Ok(beacon) = Beacon::decode(&buffer[..len]) else { continue };
            if beacon.node == own || own > beacon.node {
                continue; // ourselves, or the other node dials us
            }
            let address = SocketAddr::new(source.ip(), beacon.quic_port).to_string();
            if dial.book.count(PeerSource::Discovered) >= MAX_DISCOVERED {
                continue;
            }
            if dial.book.register(beacon.node, &address, PeerSource::Discovered) {
                tracing::info!(peer = %beacon.node, "discovered at {address}");
                tokio::spawn(dial_loop(dial.clone(), beacon.node, address, Some(DISCOVERED_GIVE_UP)));
            }
        }
    });
    Ok(())
}

fn listen_socket(group: SocketAddrV4, interface: Ipv4Addr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    // Bound to the group address, the socket only receives datagrams sent to
    // the group, not unicast packets aimed at the port from anywhere.
    socket.bind(&SocketAddr::from((*group.ip(), group.port())).into())?;
    socket.join_multicast_v4(group.ip(), &interface)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

fn send_socket(interface: Ipv4Addr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_multicast_loop_v4(true)?;
    socket.set_multicast_ttl_v4(1)?;
    if !interface.is_unspecified() {
        socket.set_multicast_if_v4(&interface)?;
    }
    socket.bind(&SocketAddr::from((interface, 0)).into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}
