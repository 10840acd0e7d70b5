//! The simulator on random geometric graphs (issue 4): routers from a cold
//! start (every node announces in the same second) to one simulated hour,
//! in virtual time on one thread; no sockets, no plugin runtime linked.
//!
//! Run with `cargo bench -p weft-core --bench simulator` (or `cargo xtask
//! bench --bench simulator`). Results go to docs/BENCHMARKS.md.

use weft_core::routing::RouterConfig;
use weft_core::sim::report::converge;
use weft_core::sim::{SimConfig, Topology};

fn main() {
    println!("simulator, random geometric graph, 5 ms links at 1 Mbit/s, announces at 2 % of each link:");
    // Each graph converges from a cold start (every node announces in the
    // same second), then runs on to one simulated hour: six announce rounds
    // (10-minute interval) with route expiry and refreshes.
    for (nodes, degree) in [(100, 8.0), (1000, 16.0)] {
        let topology = Topology::random_geometric(nodes, degree, 1);
        let config = SimConfig { router: RouterConfig::default(), ..SimConfig::default() };
        let report = converge(topology, config, 500, 600_000, 3_600_000);
        println!("\n{nodes} nodes, mean degree {degree}, one simulated hour:\n{report}");
    }
}
