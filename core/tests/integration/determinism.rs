//! A simulation is reproducible bit for bit from its seed.
//!
//! Every packet that crosses a simulated link is hashed, including session
//! handshakes (ephemeral keys), sealed session messages, anonymous one-shot
//! boxes (ephemeral keys), floods and traces: if any of them drew from the
//! OS (as one-shot sealing once did) or from a clock, two runs would differ.

use weft_core::routing::Sent;
use weft_core::sim::{Sim, SimConfig, Topology};

/// Runs a fixed scenario on a 40-node random geometric graph and returns
/// the hash of every packet arrival.
fn run(seed: u64) -> [u8; 32] {
    let topology = Topology::random_geometric(40, 6.0, seed);
    let mut sim = Sim::new(topology, SimConfig { seed, ..SimConfig::default() });
    sim.record_trace();
    assert!(sim.run_until_converged(500, 120_000).is_some(), "converges");
    for round in 0..5u8 {
        let (from, to) = (usize::from(round) * 7 % 40, (usize::from(round) * 13 + 5) % 40);
        let sent = sim.send(from, to, 7, &[round; 100], true);
        assert!(matches!(sent, Sent::Transmitted(_) | Sent::Queued | Sent::Local), "sent: {sent:?}");
        sim.send_anonymous(to, from, 9, &[round; 60]);
        sim.flood(from, 11, &[round; 20], 8);
        sim.trace(from, to, u64::from(round));
        sim.run_for(2_000);
    }
    let delivered: usize = (0..sim.len()).map(|i| sim.node(i).delivered.len()).sum();
    assert!(delivered >= 10, "the scenario delivers messages ({delivered})");
    sim.trace_hash().expect("recording")
}

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_another() {
    let first = run(7);
    assert_eq!(first, run(7), "same seed, same packets on every link");
    assert_ne!(first, run(8), "the seed matters");
}
