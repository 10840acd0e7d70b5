//! `weft sim`: run many router cores in one process over a virtual
//! topology and report convergence, announce traffic and speed; with
//! `--radio`, nodes on one shared LoRa channel (real routers and radio
//! links over an emulated medium) and managed against naive flooding.

use weft_core::routing::RouterConfig;
use weft_core::sim::radio::RadioSimConfig;
use weft_core::sim::radio::report::{SETTLE_US, compare_flooding};
use weft_core::sim::report::converge;
use weft_core::sim::{Placement, SimConfig, Topology};

/// The topology asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Random geometric graph in the unit square.
    Rgg,
    /// A line.
    Line,
    /// A square grid (rounded down to a square).
    Grid,
}

/// Settings of a `weft sim` run.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Topology.
    #[arg(long, value_enum, default_value_t = Shape::Rgg)]
    pub topology: Shape,
    /// Number of nodes.
    #[arg(long, default_value_t = 100)]
    pub nodes: usize,
    /// Mean neighbours per node (random geometric graph).
    #[arg(long, default_value_t = 8.0)]
    pub degree: f64,
    /// Seed for keys, graph and loss.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Packet loss per link, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// One-way link latency, ms.
    #[arg(long, default_value_t = 5)]
    pub latency_ms: u64,
    /// Link bandwidth, bits/s.
    #[arg(long, default_value_t = 1_000_000)]
    pub bandwidth_bps: u64,
    /// Largest random delay before a node rebroadcasts an announce, ms.
    #[arg(long, default_value_t = RouterConfig::default().rebroadcast_delay_ms)]
    pub rebroadcast_delay_ms: u64,
    /// Give up converging after this many simulated seconds.
    #[arg(long, default_value_t = 600)]
    pub deadline_s: u64,
    /// Keep running until this much simulated time has passed, seconds.
    #[arg(long, default_value_t = 0)]
    pub duration_s: u64,
    /// Nodes share one LoRa channel (random geometric placement, range
    /// from --degree): compare managed and naive flooding.
    #[arg(long)]
    pub radio: bool,
    /// With --radio: floods measured in each mode.
    #[arg(long, default_value_t = 20)]
    pub floods: usize,
    /// With --radio: copies (the first included) managed flooding must hear
    /// before it may drop a relay, 1 to 64.
    #[arg(long, default_value_t = weft_core::radio::link::DEFAULT_FLOOD_SUPPRESS_COPIES)]
    pub suppress_copies: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `weft sim --radio`.
fn run_radio(args: &SimArgs) -> Result<(), String> {
    if args.nodes > 2_000 {
        return Err(format!("--nodes {} with --radio: expected at most 2000", args.nodes));
    }
    if !(1..=64).contains(&args.suppress_copies) {
        return Err(format!("--suppress-copies {}: expected 1 to 64", args.suppress_copies));
    }
    if args.floods == 0 || args.floods > 10_000 {
        return Err(format!("--floods {}: expected 1 to 10000", args.floods));
    }
    let placement = Placement::random(args.nodes, args.degree, args.seed);
    if !placement.topology.is_connected() {
        return Err(format!("the radio placement of seed {} is not connected; raise --degree", args.seed));
    }
    let mut config = RadioSimConfig { loss: args.loss, seed: args.seed, ..RadioSimConfig::default() };
    config.link.flood_suppress_copies = args.suppress_copies;
    let comparison = compare_flooding(&placement, &config, args.floods, SETTLE_US);
    if args.json {
        println!("{}", serde_json::to_string(&comparison).map_err(|e| e.to_string())?);
    } else {
        print!("{comparison}");
    }
    Ok(())
}

/// Runs the simulation and prints the report.
pub fn run(args: &SimArgs) -> Result<(), String> {
    if args.nodes < 2 || args.nodes > 100_000 {
        return Err(format!("--nodes {}: expected 2 to 100000", args.nodes));
    }
    if !(0.0..1.0).contains(&args.loss) {
        return Err(format!("--loss {}: expected at least 0 and below 1", args.loss));
    }
    if args.radio {
        return run_radio(args);
    }
    let topology = match args.topology {
        Shape::Rgg => Topology::random_geometric(args.nodes, args.degree, args.seed),
        Shape::Line => Topology::line(args.nodes),
        Shape::Grid => {
            let side = (args.nodes as f64).sqrt() as usize;
            Topology::grid(side, side)
        }
    };
    if !topology.is_connected() {
        return Err(format!("the {:?} graph of seed {} is not connected; raise --degree", args.topology, args.seed));
    }
    let config = SimConfig {
        latency_ms: args.latency_ms,
        loss: args.loss,
        bandwidth_bps: args.bandwidth_bps,
        seed: args.seed,
        router: RouterConfig { rebroadcast_delay_ms: args.rebroadcast_delay_ms, ..RouterConfig::default() },
    };
    let deadline = args.deadline_s * 1000;
    let report = converge(topology, config, 500, deadline, args.duration_s * 1000);
    if args.json {
        println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    } else {
        print!("{report}");
    }
    if report.converged_ms.is_none() {
        return Err("the mesh did not converge before the deadline".into());
    }
    Ok(())
}
