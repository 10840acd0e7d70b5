//! End-to-end sessions (issue 16) on the real router core: sealed by
//! default, senders verified, replays refused, reordering tolerated,
//! tampering detected, a restarted receiver resumes without loss.

use weft_core::crypto::NodeIdentity;
use weft_core::routing::wire::{Body, Packet};
use weft_core::routing::{Delivery, LinkId, LinkParams, Outgoing, Router, RouterConfig, RouterOutput};
use weft_core::sim::{Sim, SimConfig, Topology};
use weft_core::time::{Millis, UnixMillis};

fn converged(nodes: usize) -> Sim {
    let mut sim = Sim::new(Topology::line(nodes), SimConfig::default());
    assert!(sim.run_until_converged(100, 60_000).is_some(), "did not converge");
    sim
}

fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("secret-marker-{i:04}-").into_bytes();
    p.resize(100, b'x');
    p
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn default_sends_travel_in_a_session_and_the_relay_sees_only_ciphertext() {
    let mut sim = converged(3);
    sim.capture(1);
    for i in 0..20 {
        sim.send(0, 2, 7, &payload(i), true);
    }
    sim.run_for(2_000);
    let from = sim.address(0);
    let got: Vec<&Delivery> = sim.node(2).delivered.iter().map(|(_, d)| d).collect();
    assert_eq!(got.len(), 20, "every message arrives once");
    for (i, delivery) in got.iter().enumerate() {
        assert_eq!(delivery.payload, payload(i), "in order");
        assert_eq!(delivery.from, Some(from));
        assert!(delivery.verified && delivery.sealed);
    }
    let heard = sim.node(1).heard.as_ref().expect("capturing");
    let (mut data, mut acks) = (0, 0);
    for packet in heard {
        assert!(!contains(packet, b"secret-marker"), "plaintext crossed the relay");
        if let Ok(Packet { body: Body::Session { destination, sealed, .. }, .. }) = Packet::decode(packet) {
            if destination == sim.address(2) {
                data += 1;
                // 3 header + 16 destination + 4 index + 6 counter + 1 flags + 1 port + 16 tag.
                assert_eq!(packet.len() - 100, 47, "on-air overhead of a sealed, authenticated message");
                assert_eq!(sealed.len(), 100 + 2 + 16);
            } else {
                // An acknowledgement back to the sender: nothing missing, so
                // only the mark and the top counter (7 bytes) are sealed.
                acks += 1;
                assert_eq!(sealed.len(), 7 + 16, "a compact acknowledgement");
            }
        }
    }
    assert_eq!(data, 20, "each message crossed the relay once: nothing was sent again");
    assert!(acks >= 1, "the receiver acknowledged");
    let counters = sim.node(0).router.sessions().counters();
    assert_eq!((counters.handshakes_started, counters.sealed), (1, 20), "one handshake, then only sealing");
    assert_eq!((counters.retransmitted, counters.acks_received), (0, acks));
    assert_eq!(sim.node(0).router.sessions().in_flight(), 0, "everything acknowledged");
    assert_eq!(sim.node(2).router.sessions().counters().opened, 20);
}

#[test]
fn a_node_claiming_another_address_is_never_delivered_as_that_node() {
    // 0 - 1 - 2 - 3: node 3 (the spoofer, next to the target 2) claims to be node 0.
    let mut sim = converged(4);
    let (victim, target) = (sim.address(0), sim.address(2));
    // A plaintext packet with a forged source: delivered, but not as verified.
    let inner = weft_core::routing::wire::Inner { source: Some(victim), tag: 0, reply_to: None, payload: b"forged" };
    let flags = inner.flags();
    let data = Body::Data { destination: target, port: 7, flags, inner: &inner.encode() };
    sim.inject(2, 3, Packet { hops: weft_core::routing::wire::Hops::fresh(8), body: data }.encode());
    // A handshake init naming node 0 but keyed by node 3: refused.
    let mut init = victim.0.to_vec();
    init.extend_from_slice(&[9u8; 60]);
    let hs = Body::Handshake { destination: target, step: weft_core::routing::wire::HANDSHAKE_INIT, body: &init };
    sim.inject(2, 3, Packet { hops: weft_core::routing::wire::Hops::fresh(8), body: hs }.encode());
    // A session message with guessed indices: never opens.
    for index in 0..64u32 {
        let body = Body::Session { destination: target, index, counter: 1, sealed: &[0u8; 40] };
        sim.inject(2, 3, Packet { hops: weft_core::routing::wire::Hops::fresh(8), body }.encode());
    }
    sim.run_for(2_000);
    for (_, delivery) in &sim.node(2).delivered {
        assert!(!(delivery.verified && delivery.from == Some(victim)), "a forgery was taken as node 0: {delivery:?}");
    }
    let forged: Vec<_> = sim.node(2).delivered.iter().filter(|(_, d)| d.payload == b"forged").collect();
    assert_eq!(forged.len(), 1);
    assert!(!forged[0].1.verified, "the claimed source is not verified");
    assert!(sim.node(2).router.sessions().counters().handshakes_refused >= 1);
    // The real node 0 is verified.
    sim.send(0, 2, 7, b"genuine", true);
    sim.run_for(2_000);
    let genuine = sim.node(2).delivered.iter().find(|(_, d)| d.payload == b"genuine").expect("delivered");
    assert!(genuine.1.verified && genuine.1.from == Some(victim));
}

/// Two routers on one link, packets carried by hand: for reordering,
/// loss, replay and tampering at exact positions.
struct Pair {
    routers: [Router; 2],
    delivered: Vec<Delivery>,
}

impl Pair {
    fn new() -> Pair {
        let make = |seed: u8| {
            Router::new(
                NodeIdentity::from_secret([seed; 32]),
                RouterConfig::default(),
                UnixMillis::from_unix_ms(1_000),
                seed as u64,
                Default::default(),
            )
        };
        let mut pair = Pair { routers: [make(1), make(2)], delivered: Vec::new() };
        let addresses = [pair.routers[0].address(), pair.routers[1].address()];
        for (i, router) in pair.routers.iter_mut().enumerate() {
            let params = LinkParams { neighbour: addresses[1 - i], cost: 1, bandwidth_bps: 1_000_000 };
            router.link_up(LinkId::Quic(1), params, Millis::ZERO);
        }
        pair.settle(0);
        pair
    }

    /// Carries every packet both ways until nothing moves.
    fn settle(&mut self, now: u64) {
        for _ in 0..20 {
            let mut moved = false;
            for i in 0..2 {
                for packet in self.take(i) {
                    self.routers[1 - i].receive(LinkId::Quic(1), packet, Millis::from_ms(now));
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// What router `i` transmitted (deliveries recorded on the way).
    fn take(&mut self, i: usize) -> Vec<Vec<u8>> {
        let mut outputs = Vec::new();
        self.routers[i].drain_into(&mut outputs);
        let mut packets = Vec::new();
        for output in outputs {
            match output {
                RouterOutput::Transmit { packet, .. } => packets.push(packet),
                RouterOutput::Deliver(delivery) => self.delivered.push(delivery),
                _ => {}
            }
        }
        packets
    }

    fn send(&mut self, payload: &[u8], now: u64) -> Vec<Vec<u8>> {
        let to = self.routers[1].address();
        let message = Outgoing { to, port: 7, payload, sealed: true, reveal: true, tag: 0, reply_to: None };
        self.routers[0].send(message, Millis::from_ms(now));
        self.take(0)
    }

    fn receive(&mut self, packet: Vec<u8>, now: u64) -> usize {
        let before = self.delivered.len();
        self.routers[1].receive(LinkId::Quic(1), packet, Millis::from_ms(now));
        self.take(1);
        self.delivered.len() - before
    }
}

#[test]
fn reordered_and_lost_packets_open_replays_are_refused_and_counted() {
    let mut pair = Pair::new();
    // The first send starts the handshake: let it finish.
    let first = pair.send(b"hello", 10);
    for packet in first {
        pair.routers[1].receive(LinkId::Quic(1), packet, Millis::from_ms(10));
    }
    pair.settle(10);
    assert_eq!(pair.delivered.len(), 1);
    let packets: Vec<Vec<u8>> = (0..200u32).map(|i| pair.send(&i.to_be_bytes(), 20).remove(0)).collect();
    // Deliver in a scrambled order, every fifth lost.
    let mut order: Vec<usize> = (0..200).filter(|i| i % 5 != 0).collect();
    order.sort_by_key(|i| (i * 7919) % 200);
    for &i in &order {
        assert_eq!(pair.receive(packets[i].clone(), 30), 1, "packet {i} opens out of order");
    }
    let mut got: Vec<u32> =
        pair.delivered[1..].iter().map(|d| u32::from_be_bytes(d.payload[..4].try_into().unwrap())).collect();
    got.sort();
    assert_eq!(got, order.iter().map(|&i| i as u32).collect::<Vec<_>>().tap_sort());
    for &i in order.iter().take(10) {
        assert_eq!(pair.receive(packets[i].clone(), 40), 0, "replay of {i} delivered");
    }
    assert_eq!(pair.routers[1].sessions().counters().replayed, 10);
    // A lost one, arriving late but within the window, still opens once.
    assert_eq!(pair.receive(packets[5].clone(), 50), 1);
    assert_eq!(pair.receive(packets[5].clone(), 50), 0);
}

#[test]
fn changing_any_byte_of_a_sealed_packet_makes_it_fail_to_open() {
    let mut pair = Pair::new();
    for packet in pair.send(b"warm-up", 10) {
        pair.routers[1].receive(LinkId::Quic(1), packet, Millis::from_ms(10));
    }
    pair.settle(10);
    let packet = pair.send(b"a message whose every byte matters", 20).remove(0);
    // Bytes 1 and 2 are the hop count and limit, which relays rewrite by
    // design; they steer the packet and are not part of what it says.
    for position in (0..packet.len()).filter(|p| *p != 1 && *p != 2) {
        for bit in [0x01u8, 0x80] {
            let mut damaged = packet.clone();
            damaged[position] ^= bit;
            assert_eq!(pair.receive(damaged, 30), 0, "byte {position} bit {bit:#x} changed and it still opened");
        }
    }
    assert_eq!(pair.receive(packet, 30), 1, "the intact packet opens");
}

#[test]
fn a_restarted_receiver_resumes_without_losing_a_message() {
    let mut sim = converged(3);
    for i in 0..10 {
        sim.send(0, 2, 7, &payload(i), true);
    }
    sim.run_for(1_000);
    assert_eq!(sim.node(2).delivered.len(), 10);
    sim.restart(2);
    // Sent at once, in the session the restarted node no longer holds.
    for i in 10..30 {
        sim.send(0, 2, 7, &payload(i), true);
    }
    sim.run_for(10_000);
    let got: Vec<Vec<u8>> = sim.node(2).delivered.iter().map(|(_, d)| d.payload.clone()).collect();
    let want: Vec<Vec<u8>> = (0..30).map(payload).collect();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, want, "every message exactly once");
    let sender = sim.node(0).router.sessions().counters();
    assert!(sender.resets_taken >= 1 && sender.resent >= 1, "{sender:?}");
    assert!(sim.node(2).delivered.iter().all(|(_, d)| d.verified));
}

#[test]
fn a_replayed_reset_does_not_tear_down_a_newer_session() {
    let mut sim = converged(3);
    sim.send(0, 2, 7, b"one", true);
    sim.run_for(1_000);
    sim.capture(1);
    sim.restart(2);
    sim.send(0, 2, 7, b"two", true);
    sim.run_for(5_000);
    let resets: Vec<Vec<u8>> = sim
        .node(1)
        .heard
        .as_ref()
        .expect("capturing")
        .iter()
        .filter(|p| {
            matches!(
                Packet::decode(p),
                Ok(Packet { body: Body::Handshake { step: weft_core::routing::wire::HANDSHAKE_RESET, .. }, .. })
            )
        })
        .cloned()
        .collect();
    assert!(!resets.is_empty(), "the restarted node sent a reset");
    let taken = sim.node(0).router.sessions().counters().resets_taken;
    for reset in resets {
        sim.inject(0, 1, reset);
    }
    sim.run_for(1_000);
    let counters = sim.node(0).router.sessions().counters();
    assert_eq!(counters.resets_taken, taken, "a replayed reset was believed");
    assert!(counters.resets_refused >= 1);
    sim.send(0, 2, 7, b"three", true);
    sim.run_for(1_000);
    let got: Vec<&[u8]> = sim.node(2).delivered.iter().map(|(_, d)| d.payload.as_slice()).collect();
    assert_eq!(got, [&b"one"[..], b"two", b"three"]);
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<u32> {
    fn tap_sort(mut self) -> Self {
        self.sort();
        self
    }
}

#[test]
fn a_flood_of_forged_handshakes_is_rate_limited_and_honest_ones_still_get_through() {
    let mut sim = converged(4);
    let (victim, target) = (sim.address(0), sim.address(2));
    let mut init = victim.0.to_vec();
    init.extend_from_slice(&[9u8; 60]);
    let body = Body::Handshake { destination: target, step: weft_core::routing::wire::HANDSHAKE_INIT, body: &init };
    let packet = Packet { hops: weft_core::routing::wire::Hops::fresh(8), body }.encode();
    // Node 3 sends 500 forged inits within one millisecond.
    for _ in 0..500 {
        sim.inject(2, 3, packet.clone());
    }
    let counters = sim.node(2).router.sessions().counters();
    assert_eq!(counters.handshakes_rate_limited, 300, "{counters:?}");
    assert_eq!(counters.handshakes_refused, 200, "only the budget's worth cost a DH: {counters:?}");
    // The next second has a fresh budget: the real node 0 gets its session.
    sim.run_for(1_500);
    sim.send(0, 2, 7, b"genuine", true);
    sim.run_for(3_000);
    assert!(sim.node(2).delivered.iter().any(|(_, d)| d.payload == b"genuine" && d.verified));
}

/// Lossy links (10 % of packets on every hop vanish, the sender is not told):
/// what is not acknowledged goes again until it arrives, acknowledgements
/// lost on the way back only cost a copy the receiver drops, and the
/// receiving service sees every message exactly once.
#[test]
fn on_lossy_links_every_message_arrives_exactly_once() {
    let mut sim = converged(3);
    sim.set_loss(0.10);
    // 2,000 messages, one a millisecond: far more than the replay window
    // (1,024) go out before the first lost one is sent again, so only
    // holding new messages back while an old one is unacknowledged keeps
    // its copy recognisable.
    for i in 0..2_000 {
        sim.send(0, 2, 7, &payload(i), true);
        sim.run_for(1);
    }
    sim.run_for(110_000);
    let mut got: Vec<Vec<u8>> = sim.node(2).delivered.iter().map(|(_, d)| d.payload.clone()).collect();
    let received = got.len();
    got.sort();
    got.dedup();
    assert_eq!((got.len(), received), (2_000, 2_000), "each message once, none twice");
    let sender = sim.node(0).router.sessions().counters();
    assert!(sender.retransmitted > 0, "losses were made good by sending again: {sender:?}");
    assert_eq!(sender.given_up, 0, "{sender:?}");
    assert_eq!(sim.node(0).router.sessions().in_flight(), 0, "everything acknowledged in the end");
    let receiver = sim.node(2).router.sessions().counters();
    assert!(receiver.acks_sent > 0, "{receiver:?}");
}

/// A session whose peer cannot be reached holds at most its window and its
/// queue; past that a send is refused as congested (the sender is told,
/// nothing is kept and counted as sent), and everything accepted arrives once
/// the peer is back.
#[test]
fn a_full_session_refuses_and_everything_accepted_arrives() {
    use weft_core::routing::Sent;
    let mut sim = converged(3);
    sim.send(0, 2, 7, &payload(0), true);
    sim.run_for(2_000);
    assert_eq!(sim.node(2).delivered.len(), 1, "a session is up");
    sim.isolate(2);
    let (mut accepted, mut congested) = (0usize, 0usize);
    for i in 1..6_000 {
        match sim.send(0, 2, 7, &payload(i), true) {
            Sent::Congested => congested += 1,
            _ => accepted += 1,
        }
    }
    assert!(congested > 0 && accepted >= 4_000, "accepted {accepted}, congested {congested}");
    let counters = sim.node(0).router.sessions().counters();
    assert_eq!(counters.queue_full as usize, congested, "{counters:?}");
    sim.reconnect(2);
    sim.run_for(120_000);
    let mut got: Vec<Vec<u8>> = sim.node(2).delivered.iter().map(|(_, d)| d.payload.clone()).collect();
    let received = got.len();
    got.sort();
    got.dedup();
    assert_eq!((got.len(), received), (1 + accepted, 1 + accepted), "every accepted message once, none twice");
}

/// A handshake answer that does not open (forged by anyone who saw the
/// index on the wire, or a late answer to an init given up earlier) is
/// refused and leaves the handshake waiting: the genuine answer that
/// follows still completes it, and the queued message goes at once.
#[test]
fn an_answer_that_does_not_open_leaves_the_handshake_waiting_for_the_genuine_one() {
    let mut pair = Pair::new();
    let init = pair.send(b"after the handshake", 10);
    assert_eq!(init.len(), 1, "one init");
    pair.routers[1].receive(LinkId::Quic(1), init[0].clone(), Millis::from_ms(10));
    let answers = pair.take(1);
    let answer = answers
        .iter()
        .find(|p| {
            matches!(
                Packet::decode(p),
                Ok(Packet { body: Body::Handshake { step: weft_core::routing::wire::HANDSHAKE_RESPONSE, .. }, .. })
            )
        })
        .expect("the responder answered")
        .clone();
    // The same index, a damaged Noise message: it cannot open.
    let mut forged = answer.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x55;
    pair.routers[0].receive(LinkId::Quic(1), forged, Millis::from_ms(11));
    assert_eq!(pair.routers[0].sessions().counters().handshakes_refused, 1);
    pair.routers[0].receive(LinkId::Quic(1), answer, Millis::from_ms(12));
    let counters = pair.routers[0].sessions().counters();
    assert_eq!(counters.established, 1, "the genuine answer completes the handshake: {counters:?}");
    pair.settle(12);
    assert_eq!(pair.delivered.len(), 1, "the queued message went without waiting for a retry");
    assert_eq!(pair.delivered[0].payload, b"after the handshake");
}
