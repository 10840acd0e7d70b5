//! A hostile neighbour over real QUIC: it dials a node with a key of its own
//! and, for a bounded time, writes what an attacker would: garbage frames,
//! packets for random destinations, path requests for random targets, and
//! announces signed by thousands of fresh keys (issue 17's hostile-peer test).

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use weft_core::crypto::NodeIdentity;
use weft_core::routing::announce::Announce;
use weft_core::routing::wire::{Body, Hops, Packet};
use weft_host::config::schema::QuicSection;
use weft_host::link::LinkFrame;
use weft_host::link::endpoint::{LinkSettings, client_config, create};
use weft_host::link::frame::encode_prefixed;
use weft_host::link::tls::SERVER_NAME;
use weft_plugin_api::Address;

/// What the attacker sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    /// Frames whose body is random bytes.
    pub garbage: u64,
    /// Data packets for destinations nobody knows.
    pub random_destinations: u64,
    /// Path requests for random targets.
    pub path_requests: u64,
    /// Valid announces, each from a fresh key.
    pub announces: u64,
}

fn random_address(rng: &mut u64) -> Address {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(8) {
        *rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        chunk.copy_from_slice(&rng.to_le_bytes());
    }
    Address(bytes)
}

/// Dials `victim` at `at` and attacks for `duration`; returns what was sent.
pub fn attack(at: SocketAddr, victim: Address, duration: Duration) -> Result<Sent, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let identity = NodeIdentity::generate();
        let settings = LinkSettings::from(&QuicSection::default());
        let endpoint =
            create(&identity, "127.0.0.1:0".parse().expect("address"), &settings).map_err(|e| e.to_string())?;
        let config = client_config(&identity, victim, &settings).map_err(|e| e.to_string())?;
        let connection = endpoint
            .connect_with(config, at, SERVER_NAME)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| format!("the victim refused the attacker's link: {e}"))?;
        let mut stream = connection.open_uni().await.map_err(|e| e.to_string())?;
        let mut sent = Sent::default();
        let mut rng = 0x5eed_u64;
        let mut buffer = Vec::new();
        let started = Instant::now();
        let mut round = 0u64;
        while started.elapsed() < duration {
            buffer.clear();
            for i in 0..50u64 {
                round += 1;
                let mut garbage = vec![0xffu8; 64];
                garbage[..8].copy_from_slice(&round.to_le_bytes());
                encode_prefixed(&LinkFrame::Packet(garbage), &mut buffer);
                sent.garbage += 1;
                let data = Body::Data { destination: random_address(&mut rng), port: 7, flags: 0, inner: b"flood" };
                encode_prefixed(&LinkFrame::Packet(Packet { hops: Hops::fresh(64), body: data }.encode()), &mut buffer);
                sent.random_destinations += 1;
                let request = Body::PathRequest { request: round, target: random_address(&mut rng), known_sequence: 0 };
                encode_prefixed(
                    &LinkFrame::Packet(Packet { hops: Hops::fresh(64), body: request }.encode()),
                    &mut buffer,
                );
                sent.path_requests += 1;
                if i % 5 == 0 {
                    let key = NodeIdentity::generate();
                    let sequence = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(1, |d| d.as_millis() as u64);
                    let body = Announce::create(&key, 0, sequence).to_body();
                    let announce = Body::Announce { request: None, body: &body, cost: 0 };
                    encode_prefixed(
                        &LinkFrame::Packet(Packet { hops: Hops::fresh(64), body: announce }.encode()),
                        &mut buffer,
                    );
                    sent.announces += 1;
                }
            }
            if stream.write_all(&buffer).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
        let _ = stream.finish();
        connection.close(0u8.into(), b"done");
        endpoint.wait_idle().await;
        Ok(sent)
    })
}
