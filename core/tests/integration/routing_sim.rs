//! Routing rules, exercised on the real router core through the simulator.

use weft_core::crypto::NodeIdentity;
use weft_core::routing::announce::Announce;
use weft_core::routing::wire::{Body, Hops, Inner, Packet};
use weft_core::routing::{RouterConfig, Sent};
use weft_core::sim::{Sim, SimConfig, Topology};
use weft_plugin_api::internal::rng::SplitMix64;

const PORT: u16 = 7;

fn converged(topology: Topology, config: SimConfig) -> Sim {
    let mut sim = Sim::new(topology, config);
    assert!(sim.run_until_converged(100, 60_000).is_some(), "did not converge: {:?}", sim.route_count());
    sim
}

/// A data packet for node `to`'s port, fresh with hop limit `limit`.
fn data_packet(sim: &Sim, to: usize, limit: u8, flags: u8, inner: &[u8]) -> Vec<u8> {
    Packet { hops: Hops::fresh(limit), body: Body::Data { destination: sim.address(to), port: PORT, flags, inner } }
        .encode()
}

fn payloads(sim: &Sim, node: usize) -> Vec<Vec<u8>> {
    sim.node(node).delivered.iter().map(|(_, d)| d.payload.clone()).collect()
}

#[test]
fn a_diamond_delivers_each_message_exactly_once_and_floods_once_per_node() {
    // 0 - {1, 2} - 3: two equal paths.
    let mut sim = converged(Topology::from_edges(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]), SimConfig::default());
    for i in 0..50u8 {
        sim.send(0, 3, PORT, &[i], false);
    }
    sim.flood(0, PORT, b"flood", 8);
    sim.run_for(2_000);
    let mut got = payloads(&sim, 3);
    got.sort();
    let mut expected: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i]).collect();
    expected.push(b"flood".to_vec());
    expected.sort();
    assert_eq!(got, expected, "every message once, the flood once");
    for node in [1, 2] {
        assert_eq!(payloads(&sim, node), vec![b"flood".to_vec()]);
    }
    assert!(payloads(&sim, 0).is_empty(), "a flood does not come back to its sender");
}

#[test]
fn a_relay_failing_mid_route_triggers_rediscovery_over_the_other_path() {
    // 0 - 1 - 3 and 0 - 2 - 4 - 3: the short path dies at relay 1.
    let topology = Topology::from_edges(5, &[(0, 1), (1, 3), (0, 2), (2, 4), (4, 3)]);
    let mut sim = converged(topology, SimConfig::default());
    assert_eq!(sim.node(0).router.route(&sim.address(3), sim.now()).map(|r| r.hops), Some(2));
    sim.isolate(1);
    assert_eq!(sim.send(0, 3, PORT, b"after", false), Sent::Held, "the route through 1 died with its link");
    sim.run_for(5_000);
    assert_eq!(payloads(&sim, 3), vec![b"after".to_vec()]);
    assert_eq!(sim.node(0).router.route(&sim.address(3), sim.now()).map(|r| r.hops), Some(3));
    // A relay whose onward link breaks while the sender still routes
    // through it: the relay holds the packet and rediscovers a path.
    sim.reconnect(1);
    sim.run_for(2_000);
    assert_eq!(sim.node(0).router.route(&sim.address(3), sim.now()).map(|r| r.hops), Some(2), "back via 1");
    let edge = sim.edge(1, 3).unwrap();
    sim.set_link(edge, false);
    sim.send(0, 3, PORT, b"again", false);
    sim.run_for(10_000);
    assert_eq!(payloads(&sim, 3), vec![b"after".to_vec(), b"again".to_vec()]);
    assert_eq!(sim.node(1).router.held(), 0, "the relay's held packet went out");
}

#[test]
fn an_offline_destination_gets_its_messages_when_it_returns() {
    let mut sim = converged(Topology::line(3), SimConfig::default());
    sim.isolate(2);
    sim.send(0, 2, PORT, b"while away", true);
    sim.run_for(3_000);
    assert!(payloads(&sim, 2).is_empty());
    assert!(sim.node(0).router.held() + sim.node(1).router.held() >= 1, "someone holds it");
    sim.reconnect(2);
    sim.run_for(5_000);
    assert_eq!(payloads(&sim, 2), vec![b"while away".to_vec()]);
    assert_eq!(sim.node(0).router.held() + sim.node(1).router.held(), 0);
}

/// Issue 17, finding 4: a held packet left the hold before its transmit, so
/// a link that refused it (congested, closing) lost it without trace. It
/// now leaves only once a link took it, and is tried again meanwhile.
#[test]
fn a_held_packet_whose_first_transmit_is_refused_is_kept_and_sent_again() {
    let mut sim = converged(Topology::line(3), SimConfig::default());
    let edge = sim.edge(1, 2).unwrap();
    sim.set_link(edge, false);
    sim.send(0, 2, PORT, b"held at the relay", false);
    sim.run_for(2_000);
    assert_eq!(sim.node(1).router.held(), 1, "the relay holds it");
    // The link comes back, but refuses the relay's packets for a while: the
    // path appears (2's announce) while the relay cannot send.
    sim.set_link(edge, true);
    sim.refuse_transmits(1, edge, 1_500);
    sim.run_for(500);
    assert!(payloads(&sim, 2).is_empty(), "nothing got through yet");
    assert!(sim.stats().refused >= 1, "the held packet's transmit was refused");
    assert_eq!(sim.node(1).router.held(), 1, "still held after the refusal");
    sim.run_for(5_000);
    assert_eq!(payloads(&sim, 2), vec![b"held at the relay".to_vec()], "sent again, once");
    assert_eq!(sim.node(1).router.held(), 0);
    assert!(sim.node(1).router.hold_counters().requeued >= 1, "{:?}", sim.node(1).router.hold_counters());
}

#[test]
fn relays_hold_sealed_packets_sealed_and_tampering_is_detected() {
    let mut sim = converged(Topology::line(3), SimConfig::default());
    let secret = b"appointment tuesday 9:00 for patient 4711";
    // Break the last hop: relay 1 must hold the packet.
    let edge = sim.edge(1, 2).unwrap();
    sim.set_link(edge, false);
    sim.send(0, 2, PORT, secret, true);
    sim.run_for(2_000);
    let records = &sim.node(1).held_records;
    assert!(!records.is_empty(), "the relay held the packet");
    for record in records {
        assert!(!record.windows(11).any(|w| w == &secret[..11]), "plaintext on the relay's disk");
    }
    sim.set_link(edge, true);
    sim.run_for(3_000);
    assert_eq!(payloads(&sim, 2), vec![secret.to_vec()]);

    // A relay flipping one bit of a sealed packet: the destination refuses it.
    let to = sim.address(2);
    let key = sim.node(0).router.table().entry(&to).unwrap().announce.sealing_key;
    let inner = Inner { source: None, tag: 0, reply_to: None, payload: b"genuine" }.encode();
    let sealed = weft_core::crypto::seal(&mut rand::rngs::OsRng, &x25519_dalek::PublicKey::from(key), &inner)
        .expect("a valid key");
    let mut tampered = sealed.clone();
    tampered[40] ^= 1;
    sim.inject(2, 1, data_packet(&sim, 2, 8, 0b010, &tampered));
    assert_eq!(sim.node(2).router.counters().unopenable, 1);
    sim.inject(2, 1, data_packet(&sim, 2, 8, 0b010, &sealed));
    assert_eq!(payloads(&sim, 2), vec![secret.to_vec(), b"genuine".to_vec()]);
}

#[test]
fn forged_tampered_and_replayed_announces_are_refused() {
    let mut sim = converged(Topology::line(2), SimConfig::default());
    let stranger = NodeIdentity::from_secret([77; 32]);
    let announce = |a: &Announce| {
        Packet { hops: Hops::fresh(8), body: Body::Announce { request: None, body: &a.to_body(), cost: 0 } }.encode()
    };

    // Tampered: a valid announce with its sealing key swapped.
    let mut tampered = Announce::create(&stranger, 0, 10);
    tampered.sealing_key = [1; 32];
    sim.inject(1, 0, announce(&tampered));
    // Forged: another node's key, signed by the stranger.
    let victim = NodeIdentity::from_secret([78; 32]);
    let mut forged = Announce::create(&stranger, 0, 11);
    forged.signing_key = victim.public_key().to_bytes();
    sim.inject(1, 0, announce(&forged));
    assert_eq!(sim.node(1).router.counters().announces_forged, 2);
    assert!(sim.node(1).router.route(&stranger.address(), sim.now()).is_none());
    assert!(sim.node(1).router.route(&victim.address(), sim.now()).is_none());

    // Genuine, then a replay of an older one: ignored.
    sim.inject(1, 0, announce(&Announce::create(&stranger, 0, 20)));
    assert!(sim.node(1).router.route(&stranger.address(), sim.now()).is_some());
    sim.inject(1, 0, announce(&Announce::create(&stranger, 0, 19)));
    assert_eq!(sim.node(1).router.counters().announces_stale, 1);
    assert_eq!(sim.node(1).router.table().entry(&stranger.address()).map(|e| e.announce.sequence), Some(20));
}

#[test]
fn packets_past_their_hop_limit_are_dropped() {
    let mut sim = converged(Topology::line(6), SimConfig::default());
    let inner = Inner { source: None, tag: 0, reply_to: None, payload: b"far" }.encode();
    // Limit 3: crosses links 0-1, 1-2, 2-3 and stops at 3, never reaching 5.
    sim.inject(1, 0, data_packet(&sim, 5, 3, 0, &inner));
    sim.run_for(2_000);
    assert!(payloads(&sim, 5).is_empty());
    assert_eq!(sim.node(3).router.counters().hop_limit, 1, "dropped where the count reached the limit");
    // Within the limit it arrives.
    sim.inject(1, 0, data_packet(&sim, 5, 5, 0, &inner));
    sim.run_for(2_000);
    assert_eq!(payloads(&sim, 5), vec![b"far".to_vec()]);
}

#[test]
fn a_flood_storm_on_a_dense_grid_is_contained_by_dedup() {
    let mut sim = converged(Topology::grid(6, 6), SimConfig::default());
    let before = sim.stats().transmitted;
    for i in 0..20u8 {
        sim.flood(0, PORT, &[i], 32);
    }
    sim.run_for(5_000);
    let edges = sim.topology().edges.len() as u64;
    let sent = sim.stats().transmitted - before;
    // Each node forwards each flood once over its other links: at most two
    // copies per link per flood, whatever the hop limit.
    assert!(sent <= 20 * 2 * edges, "{sent} transmissions for 20 floods over {edges} links");
    for node in 1..36 {
        assert_eq!(payloads(&sim, node).len(), 20, "node {node} got each flood once");
    }
    let duplicates: u64 = (0..36).map(|n| sim.node(n).router.counters().duplicates).sum();
    assert!(duplicates > 0, "copies arrived and were dropped");
}

#[test]
fn a_trace_lists_every_relay_and_the_destination() {
    let mut sim = converged(Topology::line(4), SimConfig::default());
    sim.trace(0, 3, 99);
    sim.run_for(1_000);
    let expected = vec![sim.address(1), sim.address(2), sim.address(3)];
    assert_eq!(sim.node(0).traces, vec![(99, expected)]);
}

#[test]
fn path_requests_find_nodes_the_requester_never_heard_of() {
    let mut sim = Sim::new(Topology::line(4), SimConfig::default());
    // Node 0 is away while the others announce; on its return it hears only
    // its neighbour's announce, so it must ask for the far end.
    sim.isolate(0);
    sim.run_for(2_000);
    sim.reconnect(0);
    sim.run_for(500);
    assert!(sim.node(0).router.route(&sim.address(1), sim.now()).is_some());
    assert!(sim.node(0).router.route(&sim.address(3), sim.now()).is_none());
    assert_eq!(sim.send(0, 3, PORT, b"found", true), Sent::Held);
    sim.run_for(2_000);
    assert_eq!(payloads(&sim, 3), vec![b"found".to_vec()]);
    assert_eq!(sim.node(0).router.counters().path_requests, 1);
    assert!(sim.node(1).router.counters().path_responses >= 1, "the neighbour knew a path and answered");
}

#[test]
fn a_100_node_random_graph_converges_and_stays_converged_under_5_percent_loss() {
    let topology = Topology::random_geometric(100, 8.0, 42);
    assert!(topology.is_connected());
    let config = SimConfig {
        loss: 0.05,
        router: RouterConfig { announce_interval_ms: 30_000, route_ttl_ms: 100_000, ..RouterConfig::default() },
        ..SimConfig::default()
    };
    let mut sim = Sim::new(topology, config);
    let at = sim.run_until_converged(250, 120_000);
    assert!(at.is_some(), "not converged: {:?}", sim.route_count());
    // Several announce intervals and route lifetimes later, still converged.
    for _ in 0..10 {
        sim.run_for(30_000);
        assert!(sim.converged(), "lost convergence at {} ms: {:?}", sim.now(), sim.route_count());
    }
}

/// Property: on random connected graphs with random loss-free links, after
/// convergence every message reaches its destination exactly once, no
/// transmitted packet exceeds its hop limit, and random bytes thrown at
/// routers never break them.
#[test]
fn property_random_graphs_deliver_exactly_once_and_survive_garbage() {
    let mut rng = SplitMix64::new(0xfeed);
    for case in 0..12 {
        let seed = rng.next_u64();
        let nodes = 5 + (seed % 20) as usize;
        let topology = Topology::random_geometric(nodes, 3.0 + (seed % 4) as f64, seed);
        if !topology.is_connected() {
            continue;
        }
        let mut sim = Sim::new(topology, SimConfig { seed, ..SimConfig::default() });
        assert!(sim.run_until_converged(100, 60_000).is_some(), "case {case} seed {seed}");
        let mut expected = vec![0usize; nodes];
        for i in 0..30u64 {
            let (from, to) = ((rng.next_u64() % nodes as u64) as usize, (rng.next_u64() % nodes as u64) as usize);
            sim.send(from, to, PORT, &i.to_be_bytes(), i % 2 == 0);
            expected[to] += 1;
        }
        for _ in 0..200 {
            let len = (rng.next_u64() % 180) as usize;
            let mut garbage: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if let Some(first) = garbage.first_mut() {
                *first = 0x40 | (*first & 0x3f);
            }
            let target = (rng.next_u64() % nodes as u64) as usize;
            if let Some(&neighbour) = sim.topology().adjacency()[target].first() {
                sim.inject(target, neighbour, garbage);
            }
        }
        sim.run_for(5_000);
        for (node, count) in expected.iter().enumerate() {
            let real = sim.node(node).delivered.iter().filter(|(_, d)| d.port == PORT && d.payload.len() == 8).count();
            assert_eq!(real, *count, "case {case} seed {seed} node {node}");
        }
    }
}

#[test]
fn exported_announces_restore_keys_and_sequences_but_no_routes_and_forgeries_are_skipped() {
    let sim = converged(Topology::from_edges(3, &[(0, 1), (1, 2)]), SimConfig::default());
    let exported = sim.node(0).router.export_announces();
    assert_eq!(exported.len(), 2 * weft_core::routing::wire::ANNOUNCE_BODY, "nodes 1 and 2");

    // A fresh router for node 0 (a restart) takes them back.
    let mut fresh = Sim::new(Topology::from_edges(3, &[]), SimConfig::default());
    let mut tampered = exported.clone();
    tampered[weft_core::routing::wire::ANNOUNCE_BODY + 40] ^= 1; // break the second signature
    let restarted = &mut fresh.node_mut(0).router;
    assert_eq!(restarted.import_announces(&tampered), 1, "the forged one is skipped");
    assert_eq!(restarted.import_announces(&exported), 1, "the good one fills in; the known one is not taken twice");
    for node in [1, 2] {
        let entry = restarted.table().entry(&sim.address(node)).expect("known again");
        assert!(entry.route.is_none(), "links are new after a restart: no route until announces arrive");
        assert_eq!(entry.announce.sequence, sim.node(0).router.table().sequence(&sim.address(node)));
    }
    assert_eq!(restarted.import_announces(&exported[..100]), 0, "a truncated blob takes nothing");
}
