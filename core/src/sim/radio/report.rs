//! Managed against naive flooding on one placement, in one run: what
//! `weft sim --radio` prints and docs/BENCHMARKS.md records.
//!
//! Both modes get the same nodes, keys, placement, floods and sources;
//! only `flood_suppress_copies` differs (0 is naive: every node relays
//! every flood once, at once). Each mode first runs until every node has
//! each node in range up as a neighbour (signed hellos, confirms), then
//! sends the floods one at a time, [`FLOOD_GAP_US`] apart.

use super::{RadioSim, RadioSimConfig};
use crate::sim::topology::Placement;
use std::fmt;
use std::time::Instant;
use weft_plugin_api::internal::rng::SplitMix64;

/// Time between two measured floods, µs (every copy is long settled).
pub const FLOOD_GAP_US: u64 = 30_000_000;
/// Neighbour discovery gives up after this long, µs.
pub const DISCOVERY_DEADLINE_US: u64 = 1_800_000_000;
/// After discovery, the routes get at most this long to converge, µs.
pub const SETTLE_US: u64 = 3_600_000_000;
/// The port the measured floods go to.
const FLOOD_PORT: u16 = 4242;

/// How one flooding mode did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FloodSummary {
    /// Floods sent.
    pub floods: usize,
    /// Nodes reached over all floods (the source not counted).
    pub reached: usize,
    /// Mean share of the other nodes a flood reached.
    pub mean_reach: f64,
    /// Smallest share a flood reached.
    pub min_reach: f64,
    /// Frames that carried the floods, over all floods.
    pub transmissions: u64,
    /// Their time on air over all floods, ms.
    pub airtime_ms: f64,
    /// Mean time from a flood's start to its last delivery, s.
    pub last_delivery_s: f64,
    /// Simulated time until every node had all nodes in range as
    /// neighbours, s (`None`: not by the deadline).
    pub discovery_s: Option<f64>,
    /// Simulated time until every node had a route to every other, s
    /// (`None`: not within [`SETTLE_US`] after discovery).
    pub converged_s: Option<f64>,
    /// Receptions lost to collisions over the whole run.
    pub collided: u64,
    /// Wall-clock time of the run, ms.
    pub wall_ms: u64,
}

/// Managed and naive flooding side by side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FloodComparison {
    /// Nodes.
    pub nodes: usize,
    /// Pairs in range.
    pub links: usize,
    /// Longest shortest path, hops.
    pub diameter: usize,
    /// The radio: spreading factor and bandwidth.
    pub radio: String,
    /// Naive flooding.
    pub naive: FloodSummary,
    /// Managed flooding.
    pub managed: FloodSummary,
    /// Nodes managed flooding reached over those naive flooding reached.
    pub reach_ratio: f64,
    /// Managed flooding's transmissions over naive flooding's.
    pub transmission_ratio: f64,
}

/// Runs `floods` floods from sources drawn from `seed` over `placement` in
/// both modes.
/// After discovery the routes get up to `settle_us` to converge (the cold
/// start's announces quieten) before the first flood.
pub fn compare_flooding(
    placement: &Placement,
    config: &RadioSimConfig,
    floods: usize,
    settle_us: u64,
) -> FloodComparison {
    let mut naive_config = config.clone();
    naive_config.link.flood_suppress_copies = 0;
    let naive = run_floods(placement, naive_config, floods, settle_us);
    let mut managed_config = config.clone();
    if managed_config.link.flood_suppress_copies == 0 {
        managed_config.link.flood_suppress_copies = crate::radio::link::DEFAULT_FLOOD_SUPPRESS_COPIES;
    }
    let managed = run_floods(placement, managed_config, floods, settle_us);
    FloodComparison {
        nodes: placement.points.len(),
        links: placement.topology.edges.len(),
        diameter: placement.topology.diameter(),
        radio: format!("SF{} / {} kHz", config.lora.spreading_factor, config.lora.bandwidth_hz / 1000),
        reach_ratio: managed.reached as f64 / naive.reached.max(1) as f64,
        transmission_ratio: managed.transmissions as f64 / naive.transmissions.max(1) as f64,
        naive,
        managed,
    }
}

/// One mode: discovery, then the floods.
pub fn run_floods(placement: &Placement, config: RadioSimConfig, floods: usize, settle_us: u64) -> FloodSummary {
    let started = Instant::now();
    let mut sources = SplitMix64::new(config.seed ^ 0xf100d);
    let hops = config.router.max_hops;
    let mut sim = RadioSim::new(placement.clone(), config);
    let nodes = sim.len();
    let mut discovery_s = None;
    while sim.now_us() < DISCOVERY_DEADLINE_US {
        sim.run_for(5_000_000);
        if sim.nodes_with_all_neighbours() == nodes {
            discovery_s = Some(sim.now_us() as f64 / 1e6);
            break;
        }
    }
    // The cold start's announces settle before anything is measured.
    let settled_by = sim.now_us().saturating_add(settle_us);
    while sim.now_us() < settled_by && !sim.converged() {
        sim.run_for(10_000_000);
    }
    let converged_s = sim.converged().then(|| sim.now_us() as f64 / 1e6);
    let mut summary = FloodSummary { floods, discovery_s, converged_s, min_reach: 1.0, ..FloodSummary::default() };
    let others = nodes.saturating_sub(1).max(1) as f64;
    for k in 0..floods {
        let from = sources.below(nodes as u64) as usize;
        let payload = format!("measured flood {k}").into_bytes();
        let sent_at = sim.now_us();
        let id = sim.flood(from, FLOOD_PORT, &payload, hops);
        sim.run_for(FLOOD_GAP_US);
        let (reached, last_at) = sim.reached(from, &payload);
        summary.last_delivery_s += last_at.map_or(0.0, |at| at.saturating_sub(sent_at) as f64 / 1e6);
        let cost = sim.flood_cost(id);
        summary.reached += reached;
        summary.min_reach = summary.min_reach.min(reached as f64 / others);
        summary.transmissions += cost.transmissions;
        summary.airtime_ms += cost.airtime_us as f64 / 1000.0;
    }
    summary.last_delivery_s /= floods.max(1) as f64;
    summary.mean_reach = summary.reached as f64 / (others * floods.max(1) as f64);
    summary.collided = sim.medium().stats.collided;
    summary.wall_ms = started.elapsed().as_millis() as u64;
    summary
}

impl fmt::Display for FloodComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} nodes on one {} channel, {} pairs in range, diameter {} hops",
            self.nodes, self.radio, self.links, self.diameter
        )?;
        writeln!(
            f,
            "{:<8} {:>7} {:>11} {:>10} {:>14} {:>16} {:>13} {:>11} {:>13}",
            "",
            "floods",
            "mean reach",
            "min reach",
            "frames/flood",
            "airtime/flood",
            "last reached",
            "collisions",
            "neighbours in"
        )?;
        for (name, s) in [("naive", &self.naive), ("managed", &self.managed)] {
            let floods = s.floods.max(1) as f64;
            let discovery = s.discovery_s.map_or("never".to_string(), |t| format!("{t:.0} s"));
            writeln!(
                f,
                "{:<8} {:>7} {:>10.1}% {:>9.1}% {:>14.1} {:>13.0} ms {:>11.1} s {:>11} {:>13}",
                name,
                s.floods,
                s.mean_reach * 100.0,
                s.min_reach * 100.0,
                s.transmissions as f64 / floods,
                s.airtime_ms / floods,
                s.last_delivery_s,
                s.collided,
                discovery
            )?;
        }
        writeln!(
            f,
            "managed reaches {:.1}% of what naive reaches with {:.1}% of its transmissions",
            self.reach_ratio * 100.0,
            self.transmission_ratio * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_flooding_reaches_what_naive_does_with_far_fewer_frames() {
        let placement = Placement::random(30, 10.0, 3);
        assert!(placement.topology.is_connected());
        let config = RadioSimConfig { seed: 3, ..RadioSimConfig::default() };
        // Measured once the cold start's announces have settled: straight
        // after discovery the channel is busy, and which floods lose a branch
        // to a collision then swings with any byte that changes airtime (the
        // benchmark, `radio_flooding`, reports that case).
        let comparison = compare_flooding(&placement, &config, 4, 300_000_000);
        eprintln!("{comparison}");
        assert!(comparison.naive.discovery_s.is_some() && comparison.managed.discovery_s.is_some());
        assert!(comparison.naive.mean_reach > 0.8, "{comparison}");
        assert!(comparison.managed.mean_reach > 0.95, "{comparison}");
        // Four floods over 29 receivers: one node missed is 0.9 %. The
        // issue's figure (>= 99 % at 100 nodes) is the benchmark's.
        assert!(comparison.reach_ratio >= 0.95, "{comparison}");
        assert!(comparison.transmission_ratio <= 0.8, "{comparison}");
    }

    #[test]
    fn a_radio_simulation_is_reproducible_from_its_seed() {
        let run = || {
            let placement = Placement::random(12, 5.0, 9);
            let mut sim = RadioSim::new(placement, RadioSimConfig { seed: 9, ..RadioSimConfig::default() });
            sim.run_until(200_000_000);
            sim.flood(0, FLOOD_PORT, b"same", 8);
            sim.run_for(20_000_000);
            sim.trace_hash()
        };
        assert_eq!(run(), run());
    }
}
