//! Session benchmarks (issue 16): CPU per message at the sender and the
//! receiver for the three ways an addressed message can travel (plaintext,
//! the anonymous one-shot sealed box, an established session), the cost of
//! a handshake, and the bytes on the wire. Two real router cores in one
//! process, packets carried by hand, so only the sealing path is measured.
//!
//! Run with `cargo bench -p weft-core --bench sessions`; results go to
//! docs/BENCHMARKS.md.

use std::time::Instant;
use weft_core::crypto::NodeIdentity;
use weft_core::routing::{LinkId, LinkParams, Outgoing, Router, RouterConfig, RouterOutput};
use weft_core::time::{Millis, UnixMillis};

const MESSAGES: usize = 200_000;
const HANDSHAKES: usize = 2_000;

fn router(seed: u8) -> Router {
    Router::new(
        NodeIdentity::from_secret([seed; 32]),
        RouterConfig::default(),
        UnixMillis::from_unix_ms(1_000),
        u64::from(seed),
        Default::default(),
    )
}

/// Two routers joined by link 1 with announces exchanged.
fn pair(a: u8, b: u8) -> (Router, Router) {
    let (mut a, mut b) = (router(a), router(b));
    let (addr_a, addr_b) = (a.address(), b.address());
    a.link_up(LinkId::Quic(1), LinkParams { neighbour: addr_b, cost: 1, bandwidth_bps: 1 << 40 }, Millis::from_ms(0));
    b.link_up(LinkId::Quic(1), LinkParams { neighbour: addr_a, cost: 1, bandwidth_bps: 1 << 40 }, Millis::from_ms(0));
    carry(&mut a, &mut b);
    (a, b)
}

fn transmits(router: &mut Router, buffer: &mut Vec<RouterOutput>) -> Vec<Vec<u8>> {
    router.drain_into(buffer);
    buffer
        .drain(..)
        .filter_map(|o| match o {
            RouterOutput::Transmit { packet, .. } => Some(packet),
            _ => None,
        })
        .collect()
}

/// Carries packets both ways until nothing moves.
fn carry(a: &mut Router, b: &mut Router) {
    let mut buffer = Vec::new();
    for _ in 0..10 {
        let to_b = transmits(a, &mut buffer);
        let moved = !to_b.is_empty();
        for packet in to_b {
            b.receive(LinkId::Quic(1), packet, Millis::from_ms(0));
        }
        let to_a = transmits(b, &mut buffer);
        let moved = moved || !to_a.is_empty();
        for packet in to_a {
            a.receive(LinkId::Quic(1), packet, Millis::from_ms(0));
        }
        if !moved {
            return;
        }
    }
}

struct Figures {
    send_us: f64,
    receive_us: f64,
    overhead: usize,
}

fn measure(sealed: bool, reveal: bool) -> Figures {
    let (mut a, mut b) = pair(1, 2);
    let to = b.address();
    let payload = [7u8; 100];
    let message = Outgoing { to, port: 7, payload: &payload, sealed, reveal, tag: 0, reply_to: None };
    // Establish the session (when there is one) and warm up.
    a.send(message, Millis::from_ms(0));
    carry(&mut a, &mut b);
    let mut buffer = Vec::with_capacity(MESSAGES);
    let mut packets = Vec::with_capacity(MESSAGES);
    let start = Instant::now();
    for _ in 0..MESSAGES {
        a.send(message, Millis::from_ms(0));
        a.drain_into(&mut buffer);
        for output in buffer.drain(..) {
            if let RouterOutput::Transmit { packet, .. } = output {
                packets.push(packet);
            }
        }
    }
    let send = start.elapsed();
    let overhead = packets[0].len() - payload.len();
    let start = Instant::now();
    let mut delivered = 0;
    for packet in packets {
        b.receive(LinkId::Quic(1), packet, Millis::from_ms(0));
        b.drain_into(&mut buffer);
        delivered += buffer.drain(..).filter(|o| matches!(o, RouterOutput::Deliver(_))).count();
    }
    let receive = start.elapsed();
    assert_eq!(delivered, MESSAGES, "every message opened");
    Figures {
        send_us: send.as_secs_f64() * 1e6 / MESSAGES as f64,
        receive_us: receive.as_secs_f64() * 1e6 / MESSAGES as f64,
        overhead,
    }
}

/// A handshake from the first message to an established session at both
/// ends (both nodes' CPU together, first message included).
fn handshake_us() -> f64 {
    let mut pairs: Vec<(Router, Router)> =
        (0..HANDSHAKES).map(|i| pair(1 + (i % 100) as u8, 101 + (i / 100) as u8)).collect();
    let start = Instant::now();
    for (a, b) in &mut pairs {
        let to = b.address();
        a.send(
            Outgoing { to, port: 7, payload: &[7; 100], sealed: true, reveal: true, tag: 0, reply_to: None },
            Millis::from_ms(0),
        );
        carry(a, b);
    }
    let elapsed = start.elapsed();
    assert!(pairs.iter().all(|(a, _)| a.sessions().established() == 1));
    elapsed.as_secs_f64() * 1e6 / HANDSHAKES as f64
}

fn main() {
    println!("addressed 100-byte messages, {MESSAGES} each, one core:");
    println!("| path | sender µs/msg | receiver µs/msg | bytes beyond the payload |\n|---|---|---|---|");
    for (name, sealed, reveal) in [
        ("plaintext, sender revealed (unverified)", false, true),
        ("one-shot sealed box, anonymous", true, false),
        ("session: sealed, sender verified", true, true),
    ] {
        let f = measure(sealed, reveal);
        println!("| {name} | {:.2} | {:.2} | {} |", f.send_us, f.receive_us, f.overhead);
    }
    println!("\nhandshake (KK, both ends, with the first message): {:.0} µs", handshake_us());
}
