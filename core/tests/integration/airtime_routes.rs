//! Airtime-aware routes (issue 20): a route's cost is the sum of its links'
//! costs, carried in announces, and a cheaper path wins over a shorter one:
//! two SF7 radio hops (175 ms on air each for 100 bytes) beat one SF12 hop
//! (3,941 ms).

use weft_core::radio::link::airtime_cost;
use weft_core::sim::{Sim, SimConfig, Topology};
use weft_plugin_api::radio::LoraParams;

fn at(spreading_factor: u8) -> u32 {
    airtime_cost(&LoraParams { spreading_factor, ..LoraParams::default() })
}

#[test]
fn a_radio_links_cost_is_its_airtime() {
    assert_eq!((at(7), at(12)), (175, 3941));
    assert!(2 * at(7) < at(12) && 20 * at(7) < at(12) * 2, "SF7 and SF12 differ about 20x");
}

#[test]
fn two_fast_hops_beat_one_slow_hop_and_the_slow_one_stays_as_the_fallback() {
    // 0 - 2 directly at SF12; 0 - 1 - 2 at SF7.
    let mut sim = Sim::new(Topology::from_edges(3, &[(0, 1), (1, 2), (0, 2)]), SimConfig::default());
    let (direct, first, second) =
        (sim.edge(0, 2).expect("edge"), sim.edge(0, 1).expect("edge"), sim.edge(1, 2).expect("edge"));
    sim.set_link_cost(direct, at(12));
    sim.set_link_cost(first, at(7));
    sim.set_link_cost(second, at(7));
    assert!(sim.run_until_converged(100, 60_000).is_some(), "did not converge");
    let now = sim.now();
    let route = sim.node(0).router.route(&sim.address(2), now).expect("a route to node 2");
    assert_eq!((route.neighbour, route.hops, route.cost), (sim.address(1), 2, 2 * at(7)), "{route:?}");
    let back = sim.node(2).router.route(&sim.address(0), now).expect("a route to node 0");
    assert_eq!((back.neighbour, back.cost), (sim.address(1), 2 * at(7)));
    // Messages take the cheap path: nothing crosses the SF12 link.
    sim.capture(1);
    for i in 0..5u8 {
        sim.send(0, 2, 7, &[i; 40], true);
    }
    sim.run_for(2_000);
    assert_eq!(sim.node(2).delivered.len(), 5);
    assert!(sim.node(1).heard.as_ref().is_some_and(|h| h.len() >= 5), "they went through node 1");
    // Without the fast path, the slow link carries the traffic: the next
    // message finds the direct route (a path request) and arrives.
    sim.set_link(first, false);
    sim.send(0, 2, 7, b"the long way round", true);
    sim.run_for(10_000);
    assert_eq!(sim.node(2).delivered.len(), 6);
    let route = sim.node(0).router.route(&sim.address(2), sim.now()).expect("the fallback route");
    assert_eq!((route.neighbour, route.hops, route.cost), (sim.address(2), 1, at(12)));
}
