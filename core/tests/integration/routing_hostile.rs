//! Routing against a hostile peer (issue 17): what a crafted packet must not
//! be able to do to the real router core, driven through the simulator.

use weft_core::routing::wire::{Body, HOP_COUNT_OFFSET, Hops, Packet};
use weft_core::routing::{MAX_SEQUENCE_LEAD_MS, RouterConfig};
use weft_core::sim::{Sim, SimConfig, Topology};

fn converged(topology: Topology, config: SimConfig) -> Sim {
    let mut sim = Sim::new(topology, config);
    assert!(sim.run_until_converged(100, 60_000).is_some(), "did not converge: {:?}", sim.route_count());
    sim
}

fn path_request(sim: &Sim, target: usize, request: u64, known_sequence: u64, limit: u8) -> Vec<u8> {
    let body = Body::PathRequest { request, target: sim.address(target), known_sequence };
    Packet { hops: Hops::fresh(limit), body }.encode()
}

/// Finding 1: a path request carrying `known = u64::MAX - 1` made the target
/// sign `u64::MAX`; every node kept that announce, the target's next
/// sequence wrapped, and its announces were dropped as stale from then on
/// (`u64::MAX` panicked a debug build). Now a node signs nothing beyond a
/// bounded lead over its own clock, and nobody takes such a sequence.
#[test]
fn a_path_request_cannot_push_a_sequence_out_of_the_targets_clock() {
    let config = SimConfig {
        router: RouterConfig { announce_interval_ms: 20_000, ..SimConfig::default().router },
        ..SimConfig::default()
    };
    // 0 - 1 - 2: node 0 is the attacker, 2 the victim, 1 an observer.
    let mut sim = converged(Topology::line(3), config);
    for (request, known) in [(1, u64::MAX - 1), (2, u64::MAX), (3, u64::MAX / 2)] {
        let packet = path_request(&sim, 2, request, known, 8);
        sim.inject(1, 0, packet);
        sim.run_for(500);
    }
    let bound = sim.now().as_ms() + MAX_SEQUENCE_LEAD_MS;
    for observer in [0, 1] {
        let held = sim.node(observer).router.table().sequence(&sim.address(2));
        assert!(held <= bound, "node {observer} holds sequence {held} for the victim (bound {bound})");
    }
    assert!(sim.node(2).router.counters().path_requests_implausible >= 3);
    // The victim's next periodic announces are taken, not dropped as stale.
    let stale_before = sim.node(1).router.counters().announces_stale;
    let sequence_before = sim.node(1).router.table().sequence(&sim.address(2));
    sim.run_for(45_000);
    assert!(sim.node(1).router.table().sequence(&sim.address(2)) > sequence_before, "newer announces taken");
    assert_eq!(sim.node(1).router.counters().announces_stale, stale_before);
    assert!(sim.node(0).router.route(&sim.address(2), sim.now()).is_some());
}

/// A legitimate requester that knows a newer sequence than the target's own
/// (the target restarted with its clock behind) still gets a newer answer.
#[test]
fn a_plausible_known_sequence_is_still_outbid() {
    let mut sim = converged(Topology::line(3), SimConfig::default());
    let known = sim.now().as_ms() + 5_000;
    sim.inject(1, 0, path_request(&sim, 2, 9, known, 8));
    sim.run_for(500);
    assert!(sim.node(1).router.table().sequence(&sim.address(2)) > known);
}

/// An announce whose sequence lies further ahead of the receiver's clock
/// than any honest clock could is refused and counted, so a signer cannot
/// park an unbeatable sequence in every table.
#[test]
fn an_announce_far_ahead_of_the_clock_is_refused() {
    let mut sim = converged(Topology::line(2), SimConfig::default());
    let packet = path_request(&sim, 1, 7, u64::MAX - 1, 8);
    // Node 1 answers (capped), node 0 keeps a plausible sequence.
    sim.inject(1, 0, packet);
    sim.run_for(500);
    assert!(sim.node(0).router.table().sequence(&sim.address(1)) <= sim.now().as_ms() + MAX_SEQUENCE_LEAD_MS);
    let far = weft_core::routing::announce::Announce::create(
        &weft_core::crypto::NodeIdentity::from_secret([42; 32]),
        0,
        sim.now().as_ms() + MAX_SEQUENCE_LEAD_MS + 1_000_000,
    );
    let body = far.to_body();
    let packet = Packet { hops: Hops::fresh(8), body: Body::Announce { request: None, body: &body, cost: 0 } }.encode();
    sim.inject(0, 1, packet);
    sim.run_for(100);
    assert_eq!(sim.node(0).router.table().sequence(&far.address()), 0, "not taken");
    assert_eq!(sim.node(0).router.counters().announces_implausible, 1);
}

/// Relays forwarded floods and path requests up to the packet's own hop
/// limit (up to 255) while `max_hops` bounds what they originate; a relay
/// now caps the limit at its `max_hops`.
#[test]
fn relays_cap_a_packets_hop_limit_at_their_max_hops() {
    let config =
        SimConfig { router: RouterConfig { max_hops: 3, ..SimConfig::default().router }, ..SimConfig::default() };
    // 0 - 1 - 2 - 3 - 4 - 5 (with 3 hops at most, not every pair has a route)
    let mut sim = Sim::new(Topology::line(6), config);
    sim.run_for(20_000);
    // A path request for an address nobody knows, with hop limit 255, into node 1.
    let body = Body::PathRequest { request: 77, target: weft_plugin_api::Address([0xEE; 16]), known_sequence: 0 };
    let packet = Packet { hops: Hops::fresh(255), body }.encode();
    assert_eq!(packet[HOP_COUNT_OFFSET + 1], 255);
    sim.inject(1, 0, packet.clone());
    sim.run_for(1_000);
    // Node 1 is hop 1 of 3, node 2 hop 2; node 3 may not forward it.
    assert!(sim.node(3).router.counters().hop_limit > 0, "node 3 stopped it");
    // Node 4 never saw it: the same request is new to it.
    let duplicates = sim.node(4).router.counters().duplicates;
    sim.inject(4, 3, packet);
    sim.run_for(100);
    assert_eq!(sim.node(4).router.counters().duplicates, duplicates, "the request went past the cap");
}

fn announce_from(identity: &weft_core::crypto::NodeIdentity, sequence: u64) -> Vec<u8> {
    let body = weft_core::routing::announce::Announce::create(identity, 0, sequence).to_body();
    Packet { hops: Hops::fresh(8), body: Body::Announce { request: None, body: &body, cost: 0 } }.encode()
}

fn fresh_key(i: u64) -> weft_core::crypto::NodeIdentity {
    let mut secret = [7u8; 32];
    secret[..8].copy_from_slice(&i.to_le_bytes());
    weft_core::crypto::NodeIdentity::from_secret(secret)
}

fn limited(limits: weft_core::routing::limits::RouterLimits) -> SimConfig {
    SimConfig { router: RouterConfig { limits, ..SimConfig::default().router }, ..SimConfig::default() }
}

/// Finding 2: announces from thousands of throwaway keys grew the table
/// without bound, each costing a signature check. Now one link gets so many
/// checks a second, and the table holds at most `max_nodes`, keeping the
/// nodes it has routes to.
#[test]
fn throwaway_keys_are_rate_limited_per_link_and_the_table_stays_bounded() {
    let limits = weft_core::routing::limits::RouterLimits {
        max_nodes: 40,
        announces_per_link_per_s: 100.0,
        ..Default::default()
    };
    // 0 - 1 - 2: node 0 floods node 1 with announces of fresh keys.
    let mut sim = converged(Topology::line(3), limited(limits));
    let sequence = sim.now().as_ms() + 1;
    for i in 0..2_000 {
        sim.inject(1, 0, announce_from(&fresh_key(i), sequence));
    }
    let counters = sim.node(1).router.counters();
    assert!(counters.announces_rate_limited >= 1_900, "at most a second's burst was verified: {counters:?}");
    for round in 0..20 {
        sim.run_for(1_000);
        for i in 0..200 {
            sim.inject(1, 0, announce_from(&fresh_key(10_000 + round * 200 + i), sim.now().as_ms() + 1));
        }
    }
    let table = sim.node(1).router.table();
    assert!(table.len() <= 40, "bounded: {} nodes", table.len());
    assert!(sim.node(1).router.counters().nodes_refused > 0, "{:?}", sim.node(1).router.counters());
    assert!(sim.node(1).router.route(&sim.address(2), sim.now()).is_some(), "the honest neighbour keeps its route");
    assert!(sim.node(1).router.route(&sim.address(0), sim.now()).is_some());
}

/// A node with a route nobody refreshes makes room for a newcomer once its
/// route lapsed; its key is forgotten with it.
#[test]
fn a_full_table_forgets_the_node_without_a_route_heard_longest_ago() {
    let limits = weft_core::routing::limits::RouterLimits { max_nodes: 16, ..Default::default() };
    let mut sim = converged(Topology::line(2), limited(limits));
    for i in 0..15 {
        sim.inject(1, 0, announce_from(&fresh_key(i), sim.now().as_ms() + 1));
        sim.run_for(10); // heard one after the other
    }
    assert_eq!(sim.node(1).router.table().len(), 16, "15 fresh keys and the neighbour: full");
    sim.inject(1, 0, announce_from(&fresh_key(99), sim.now().as_ms() + 1));
    assert_eq!(sim.node(1).router.counters().nodes_refused, 1, "every node has a route: the newcomer waits");
    // The fresh keys never announce again; their routes lapse (35 min).
    sim.run_for(36 * 60 * 1000);
    sim.inject(1, 0, announce_from(&fresh_key(99), sim.now().as_ms()));
    let counters = sim.node(1).router.counters();
    assert_eq!(counters.nodes_evicted, 1, "{counters:?}");
    assert!(sim.node(1).router.table().entry(&fresh_key(99).address()).is_some());
    assert!(sim.node(1).router.table().entry(&fresh_key(0).address()).is_none(), "the oldest one went");
}

/// A genuine origin signing sequence after sequence gets so many accepted a
/// minute; the rest are dropped before they reach anyone else.
#[test]
fn one_origin_gets_a_bounded_number_of_new_announces_a_minute() {
    let limits = weft_core::routing::limits::RouterLimits { announces_per_origin_per_min: 6.0, ..Default::default() };
    let mut sim = converged(Topology::line(2), limited(limits));
    let origin = fresh_key(5);
    let start = sim.now().as_ms();
    for i in 0..100 {
        sim.inject(1, 0, announce_from(&origin, start + 1 + i));
    }
    let counters = sim.node(1).router.counters();
    // The first makes it a known node; six updates (the burst) follow.
    assert_eq!(counters.announces_origin_limited, 100 - 1 - 6, "{counters:?}");
}

/// Path requests and packets for destinations nobody knows make a node
/// flood and store: so many a second per link, the rest dropped and counted.
#[test]
fn path_requests_and_unknown_destinations_are_rate_limited_per_link() {
    let limits = weft_core::routing::limits::RouterLimits {
        path_requests_per_link_per_s: 20.0,
        unknown_per_link_per_s: 30.0,
        ..Default::default()
    };
    let mut sim = converged(Topology::line(3), limited(limits));
    for i in 0..500u64 {
        let body = Body::PathRequest { request: 1_000 + i, target: fresh_key(i).address(), known_sequence: 0 };
        sim.inject(1, 0, Packet { hops: Hops::fresh(8), body }.encode());
        let data = Body::Data { destination: fresh_key(50_000 + i).address(), port: 7, flags: 0, inner: b"x" };
        sim.inject(1, 0, Packet { hops: Hops::fresh(8), body: data }.encode());
    }
    let counters = sim.node(1).router.counters();
    assert_eq!(counters.path_requests_rate_limited, 480, "{counters:?}");
    assert_eq!(counters.unknown_rate_limited, 470, "{counters:?}");
    assert!(sim.node(1).router.held() <= 30);
}

/// A search for a destination that never answers gives up after
/// `path_request_tries`; at most `max_searches` run at once.
#[test]
fn searches_give_up_and_are_capped() {
    let limits =
        weft_core::routing::limits::RouterLimits { path_request_tries: 3, max_searches: 10, ..Default::default() };
    let mut sim = converged(Topology::line(2), limited(limits));
    let before = sim.node(0).router.counters().path_requests;
    for i in 0..50u64 {
        sim.send_to(0, fresh_key(i).address(), 7, b"hello", false);
    }
    sim.run_for(10 * 60 * 1000);
    let counters = sim.node(0).router.counters();
    assert_eq!(counters.path_requests - before, 10 * 3, "ten searches, three requests each: {counters:?}");
    assert_eq!(counters.searches_given_up, 10, "{counters:?}");
    assert!(counters.searches_refused >= 40, "{counters:?}");
}

/// One neighbour sending packets for destinations nobody knows fills the
/// relay's hold only up to its own share: another neighbour's held packets
/// stay, and what was pushed out is counted.
#[test]
fn a_neighbour_filling_the_hold_pushes_out_only_its_own_packets() {
    let mut config =
        limited(weft_core::routing::limits::RouterLimits { unknown_per_link_per_s: 10_000.0, ..Default::default() });
    config.router.hold = weft_core::routing::pending::HoldLimits { per_source: 50, total: 120, ..config.router.hold };
    // 0 - 1 - 2: node 0 floods the relay 1, node 2 is an honest neighbour.
    let mut sim = converged(Topology::line(3), config);
    let unknown = |i: u64| {
        let data = Body::Data { destination: fresh_key(70_000 + i).address(), port: 7, flags: 0, inner: b"x" };
        Packet { hops: Hops::fresh(8), body: data }.encode()
    };
    for i in 0..20 {
        sim.inject(1, 2, unknown(i));
    }
    for i in 100..1_100 {
        sim.inject(1, 0, unknown(i));
    }
    let relay = &sim.node(1).router;
    assert_eq!(relay.held_from(&sim.address(2)), 20, "the honest neighbour's packets stay");
    assert_eq!(relay.held_from(&sim.address(0)), 50, "the flooder keeps its share");
    let counters = relay.hold_counters();
    assert_eq!((counters.evicted, counters.evicted_per_source), (950, 950), "{counters:?}");
}
