//! A convergence run with its figures: what `weft sim` prints and the
//! routing benchmark records.

use super::{Sim, SimConfig, Topology};
use std::time::Instant;

/// Figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimReport {
    /// Nodes.
    pub nodes: usize,
    /// Links.
    pub links: usize,
    /// Longest shortest path, hops.
    pub diameter: usize,
    /// Simulated time until every node had a route to every other, ms.
    pub converged_ms: Option<u64>,
    /// Routes known at the end, of the number full convergence needs.
    pub routes: (usize, usize),
    /// Announce bytes sent per node, on average, until convergence.
    pub announce_bytes_per_node: u64,
    /// Wall-clock time until convergence (or the deadline), ms: the boot
    /// storm, where every node announces at once.
    pub converge_wall_ms: u64,
    /// Simulated time at the end of the convergence phase, ms.
    pub converge_simulated_ms: u64,
    /// Simulated time in total, ms.
    pub simulated_ms: u64,
    /// Wall-clock time the run took, ms.
    pub wall_ms: u64,
    /// Simulated time over wall-clock time.
    pub speedup: f64,
    /// Packets put on links.
    pub packets: u64,
}

/// Runs `topology` until converged (checking every `check_ms`, giving up at
/// `deadline_ms`), then on until `total_ms` of simulated time.
pub fn converge(topology: Topology, config: SimConfig, check_ms: u64, deadline_ms: u64, total_ms: u64) -> SimReport {
    let (nodes, links, diameter) = (topology.nodes, topology.edges.len(), topology.diameter());
    let started = Instant::now();
    let mut sim = Sim::new(topology, config);
    let converged_ms = sim.run_until_converged(check_ms, deadline_ms);
    let converge_wall_ms = started.elapsed().as_millis().max(1) as u64;
    let converge_simulated_ms = sim.now().as_ms();
    let announce_bytes: u64 = (0..sim.len()).map(|i| sim.node(i).router.counters().announce_bytes).sum();
    sim.run_until(total_ms.max(sim.now().as_ms()));
    let wall_ms = started.elapsed().as_millis().max(1) as u64;
    SimReport {
        nodes,
        links,
        diameter,
        converged_ms,
        routes: sim.route_count(),
        announce_bytes_per_node: announce_bytes / nodes.max(1) as u64,
        converge_wall_ms,
        converge_simulated_ms,
        simulated_ms: sim.now().as_ms(),
        wall_ms,
        speedup: sim.now().as_ms() as f64 / wall_ms as f64,
        packets: sim.stats().transmitted,
    }
}

impl std::fmt::Display for SimReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "nodes {}  links {}  diameter {} hops", self.nodes, self.links, self.diameter)?;
        match self.converged_ms {
            Some(ms) => writeln!(
                f,
                "converged after {:.1} s simulated (every node has a route to every other)",
                ms as f64 / 1000.0
            )?,
            None => writeln!(f, "NOT converged: {} of {} routes", self.routes.0, self.routes.1)?,
        }
        writeln!(f, "announce bytes per node until convergence: {}", self.announce_bytes_per_node)?;
        writeln!(
            f,
            "convergence phase: {:.1} s simulated in {:.2} s wall clock: {:.1}x real time",
            self.converge_simulated_ms as f64 / 1000.0,
            self.converge_wall_ms as f64 / 1000.0,
            self.converge_simulated_ms as f64 / self.converge_wall_ms as f64
        )?;
        writeln!(
            f,
            "whole run: {:.1} s simulated in {:.2} s wall clock: {:.1}x real time; {} packets on links",
            self.simulated_ms as f64 / 1000.0,
            self.wall_ms as f64 / 1000.0,
            self.speedup,
            self.packets
        )
    }
}
