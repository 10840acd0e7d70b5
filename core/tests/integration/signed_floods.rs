//! Signed floods (issue 16) on the real router core: a flood, or an answer
//! to one, that reveals its source carries the source's signature; a node
//! that knows the source's key delivers and relays it only if the signature
//! holds, so no one can speak in a known node's name by flood.

use weft_core::crypto::NodeIdentity;
use weft_core::routing::wire::{Body, FLAG_SIGNED, FLAG_SOURCE, Hops, Inner, Kind, Packet, flood_signed_bytes};
use weft_core::sim::{Sim, SimConfig, Topology};

const PORT: u16 = 7;

fn converged(nodes: usize) -> Sim {
    let mut sim = Sim::new(Topology::line(nodes), SimConfig::default());
    assert!(sim.run_until_converged(100, 60_000).is_some(), "did not converge");
    sim
}

/// A flood naming `source`, signed by `signer` (or not signed).
fn flood_naming(id: u64, source: weft_plugin_api::Address, signer: Option<&NodeIdentity>, payload: &[u8]) -> Vec<u8> {
    let inner = Inner { source: Some(source), tag: 0, reply_to: None, payload }.encode();
    let signature = signer.map(|s| s.sign(&flood_signed_bytes(Kind::Flood, id, PORT, FLAG_SOURCE, &inner)).to_bytes());
    let body = Body::Flood { id, port: PORT, flags: FLAG_SOURCE, inner: &inner, signature: signature.as_ref() };
    Packet { hops: Hops::fresh(8), body }.encode()
}

fn flood_deliveries(sim: &Sim, node: usize, payload: &[u8]) -> Vec<(Option<weft_plugin_api::Address>, bool)> {
    sim.node(node).delivered.iter().filter(|(_, d)| d.payload == payload).map(|(_, d)| (d.from, d.verified)).collect()
}

#[test]
fn a_revealed_flood_is_signed_and_arrives_verified_everywhere() {
    let mut sim = converged(4);
    sim.capture(1);
    sim.flood(0, PORT, b"signed hello", 8);
    sim.run_for(2_000);
    for node in 1..4 {
        assert_eq!(flood_deliveries(&sim, node, b"signed hello"), vec![(Some(sim.address(0)), true)], "node {node}");
    }
    let heard = sim.node(1).heard.as_ref().expect("capturing");
    let flood = heard.iter().find_map(|p| match Packet::decode(p) {
        Ok(Packet { body: Body::Flood { flags, signature, .. }, .. }) => Some((flags, signature.is_some())),
        _ => None,
    });
    assert_eq!(flood, Some((FLAG_SOURCE | FLAG_SIGNED, true)), "it crossed the relay signed");
}

#[test]
fn a_flood_in_a_known_nodes_name_without_its_signature_goes_nowhere() {
    // 0 - 1 - 2 - 3: node 3 speaks in node 0's name.
    let mut sim = converged(4);
    let (victim, spoofer) = (sim.address(0), NodeIdentity::from_secret([0x5e; 32]));
    sim.inject(2, 3, flood_naming(11, victim, None, b"unsigned"));
    sim.inject(2, 3, flood_naming(12, victim, Some(&spoofer), b"signed by another"));
    sim.run_for(2_000);
    for node in 0..3 {
        assert!(flood_deliveries(&sim, node, b"unsigned").is_empty(), "node {node} took the unsigned flood");
        assert!(flood_deliveries(&sim, node, b"signed by another").is_empty(), "node {node} took the forgery");
    }
    let counters = sim.node(2).router.counters();
    assert_eq!((counters.floods_unsigned, counters.floods_forged), (1, 1), "{counters:?}");
    assert_eq!(sim.node(1).router.counters().floods_forged, 0, "node 2 did not relay them");
}

#[test]
fn a_forged_copy_first_does_not_shadow_the_genuine_flood() {
    let mut sim = converged(3);
    let (address, spoofer) = (sim.address(0), NodeIdentity::from_secret([0x5e; 32]));
    let genuine = flood_naming(77, address, Some(sim.node(0).router.identity()), b"genuine");
    // The forgery arrives first under the genuine flood's id.
    sim.inject(1, 2, flood_naming(77, address, Some(&spoofer), b"genuine"));
    sim.inject(1, 0, genuine);
    sim.run_for(2_000);
    assert_eq!(flood_deliveries(&sim, 1, b"genuine"), vec![(Some(address), true)]);
    assert_eq!(flood_deliveries(&sim, 2, b"genuine"), vec![(Some(address), true)], "relayed on");
    assert_eq!(sim.node(1).router.counters().floods_forged, 1);
}

#[test]
fn a_flood_naming_a_node_not_known_yet_is_taken_as_a_claim() {
    let mut sim = converged(3);
    let stranger = NodeIdentity::from_secret([0x77; 32]);
    sim.inject(1, 0, flood_naming(5, stranger.address(), Some(&stranger), b"from afar"));
    sim.run_for(2_000);
    for node in [1, 2] {
        assert_eq!(flood_deliveries(&sim, node, b"from afar"), vec![(Some(stranger.address()), false)], "node {node}");
    }
}

#[test]
fn an_answer_to_a_flood_is_signed_and_a_forged_one_is_refused() {
    let mut sim = converged(3);
    let id = sim.flood(0, PORT, b"who is there?", 8);
    sim.run_for(2_000);
    let now = sim.now();
    let sent = sim.node_mut(2).router.reply_to_flood(id, PORT, b"me", true, None, now);
    assert!(sent.is_ok(), "{sent:?}");
    sim.run_for(2_000);
    assert_eq!(flood_deliveries(&sim, 0, b"me"), vec![(Some(sim.address(2)), true)]);
    // Node 1 answers in node 2's name, signing with its own key.
    let inner = Inner { source: Some(sim.address(2)), tag: 0, reply_to: None, payload: b"not me" }.encode();
    let spoofer = NodeIdentity::from_secret([0x5e; 32]);
    let signature = spoofer.sign(&flood_signed_bytes(Kind::Return, id, PORT, FLAG_SOURCE, &inner)).to_bytes();
    let body = Body::Return { id, port: PORT, flags: FLAG_SOURCE, inner: &inner, signature: Some(&signature) };
    sim.inject(0, 1, Packet { hops: Hops::fresh(8), body }.encode());
    assert!(flood_deliveries(&sim, 0, b"not me").is_empty());
    assert_eq!(sim.node(0).router.counters().floods_forged, 1);
}
