//! Managed against naive flooding on a shared LoRa channel (issue 20):
//! random geometric meshes of real routers and radio links over the
//! emulated medium (collisions, half-duplex, carrier sense), the same
//! floods from the same sources in both modes.
//!
//! Run with `cargo bench -p weft-core --bench radio_flooding` (or `cargo
//! xtask bench --bench radio_flooding`); `-- NODES DEGREE FLOODS COPIES
//! [LOSS] [SEED]` picks one case (COPIES: `flood_suppress_copies`; LOSS:
//! share of receptions lost on top of collisions; SEED: placement and
//! simulation, default 1). Results go to
//! docs/BENCHMARKS.md.

use weft_core::sim::Placement;
use weft_core::sim::radio::RadioSimConfig;
use weft_core::sim::radio::report::{SETTLE_US, compare_flooding};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let number = |i: usize, default: f64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let cases: Vec<(usize, f64)> = if args.is_empty() {
        vec![(100, 6.0), (100, 8.0), (100, 12.0)]
    } else {
        vec![(number(0, 100.0) as usize, number(1, 8.0))]
    };
    let floods = number(2, 20.0) as usize;
    let mut config = RadioSimConfig::default();
    if args.len() > 3 {
        config.link.flood_suppress_copies = number(3, 1.0) as u32;
    }
    config.loss = number(4, 0.0).clamp(0.0, 0.9);
    config.seed = number(5, 1.0) as u64;
    for (nodes, degree) in cases {
        let placement = Placement::random(nodes, degree, config.seed);
        let comparison = compare_flooding(&placement, &config, floods, SETTLE_US);
        println!(
            "\nmean degree {degree}, seed {}, suppress at {} copies, loss {}, wall {} ms naive / {} ms managed",
            config.seed,
            config.link.flood_suppress_copies,
            config.loss,
            comparison.naive.wall_ms,
            comparison.managed.wall_ms
        );
        print!("{comparison}");
    }
}
